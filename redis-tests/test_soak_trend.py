#!/usr/bin/env python3
"""The soak run's trend detector (soak.detect_trend) on synthetic series:
it must pass flat, noisy, spiky and sawtooth series and fail steady climbs,
or the soak's verdicts mean nothing. Fast, no server: part of `make test`."""

import math
import random
import unittest

import soak

# A phase's stable part as the default soak samples it: 100 samples 3 s apart.
TIMES = [3.0 * i for i in range(100)]


def flat(level, noise, rng):
    return [level + rng.gauss(0, noise) for _ in TIMES]


def climbing(level, total_rise, noise, rng):
    span = TIMES[-1] - TIMES[0]
    return [level + total_rise * (t - TIMES[0]) / span + rng.gauss(0, noise) for t in TIMES]


class DetectTrendTest(unittest.TestCase):
    def judge(self, values, rel=0.08, ab=3.0):
        return soak.detect_trend(TIMES, values, rel, ab)

    def test_flat_noisy_series_pass(self):
        for seed in range(200):
            rng = random.Random(seed)
            # RSS-like: 40 MB with 1 MB of noise; the tolerance is 3.2 MB.
            t = self.judge(flat(40.0, 1.0, rng))
            self.assertFalse(t.rising, "seed %d: rise %.2f, windows %s"
                             % (seed, t.rise, t.window_medians))

    def test_steady_climbs_fail(self):
        for seed in range(200):
            rng = random.Random(seed)
            # 15% over the stable part (6 MB on 40), well above the 3.2 MB tolerance.
            t = self.judge(climbing(40.0, 6.0, 1.0, rng))
            self.assertTrue(t.rising, "seed %d: rise %.2f, windows %s"
                            % (seed, t.rise, t.window_medians))

    def test_a_slow_leak_fails_and_a_climb_within_tolerance_passes(self):
        rng = random.Random(1)
        # fds: one leaked descriptor every 60 s is 5 over 300 s: above the floor of 4.
        leak = [30 + int((t - TIMES[0]) / 60.0) for t in TIMES]
        self.assertTrue(soak.detect_trend(TIMES, leak, 0.0, 4.0).rising)
        # used_memory creeping by 1 MB on 12 (tolerance 2 MB) passes.
        self.assertFalse(self.judge(climbing(12.0, 1.0, 0.05, rng), 0.08, 2.0).rising)

    def test_spikes_and_sawtooth_pass(self):
        rng = random.Random(2)
        values = flat(10.0, 0.2, rng)
        # A few forks or restarts late in the phase: large, short spikes.
        for i in (70, 85, 93, 97, 99):
            values[i] += 50.0
        t = self.judge(values, 0.5, 2.0)
        self.assertFalse(t.rising, "rise %.2f windows %s" % (t.rise, t.window_medians))
        # Hints piling up while a peer is down, drained when it returns.
        saw = [20.0 + 4.0 * ((t % 30.0) / 30.0) + rng.gauss(0, 0.3) for t in TIMES]
        self.assertFalse(self.judge(saw).rising)

    def test_heavy_tailed_latency_passes_flat_and_fails_tripling(self):
        for seed in range(100):
            rng = random.Random(seed)
            noisy = [2.0 * math.exp(rng.gauss(0, 0.4)) for _ in TIMES]
            self.assertFalse(self.judge(noisy, 0.5, 2.0).rising, "seed %d" % seed)
            growing = [v * (1 + 2.0 * i / len(TIMES)) for i, v in
                       enumerate(2.0 * math.exp(rng.gauss(0, 0.4)) for _ in TIMES)]
            self.assertTrue(self.judge(growing, 0.5, 2.0).rising, "seed %d" % seed)

    def test_falling_and_one_early_step_pass(self):
        rng = random.Random(3)
        self.assertFalse(self.judge(climbing(40.0, -10.0, 0.5, rng)).rising)
        # One allocation early in the stable part, then flat: not a leak.
        step = [30.0 + (8.0 if t > 20 else 0.0) + rng.gauss(0, 0.3) for t in TIMES]
        self.assertFalse(self.judge(step).rising)

    def test_both_conditions_are_needed(self):
        # A steady climb whose last window is no higher than its first (it
        # fell back at the very end) is not a rise that keeps going.
        values = [float(i) for i in range(100)]
        values[80:] = [0.0] * 20
        t = soak.detect_trend(TIMES, values, 0.0, 10.0)
        self.assertGreater(t.rise, t.tolerance)
        self.assertLess(t.window_rise, t.tolerance / 2)
        self.assertFalse(t.rising)

    def test_too_few_samples_raise(self):
        with self.assertRaises(ValueError):
            soak.detect_trend(TIMES[:9], [1.0] * 9, 0.1, 1.0)
        with self.assertRaises(ValueError):
            soak.detect_trend(TIMES[:12], [1.0] * 11, 0.1, 1.0)

    def test_tolerance_is_relative_with_a_floor(self):
        t = soak.detect_trend(TIMES, [100.0] * 100, 0.08, 3.0)
        self.assertAlmostEqual(t.tolerance, 8.0)
        t = soak.detect_trend(TIMES, [10.0] * 100, 0.08, 3.0)
        self.assertAlmostEqual(t.tolerance, 3.0)
        self.assertEqual(t.rise, 0.0)

    def test_percentile(self):
        values = list(range(1, 1001))
        self.assertEqual(soak.percentile(values, 0.999), 999)
        self.assertEqual(soak.percentile(values, 1.0), 1000)
        self.assertEqual(soak.percentile([5.0], 0.999), 5.0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
