#include "geohash.h"

#include <cmath>
#include <cstdio>

namespace causalkv::command::geo {
namespace {

// Degrees to radians and back, as Redis computes them: a multiplication
// by (pi / 180) rounded once, and a division by the same constant. Using
// another form (a literal, or pi / 180 per call) changes last digits.
constexpr double kDegToRad = M_PI / 180.0;
double DegRad(double degrees) { return degrees * kDegToRad; }
double RadDeg(double radians) { return radians / kDegToRad; }

// Half the length of the equator in Web Mercator meters: where the search
// precision estimate starts.
constexpr double kMercatorMax = 20037726.37;

constexpr uint64_t kEvenBits = 0x5555555555555555ull;
constexpr Range kLonRange{kLonMin, kLonMax};
constexpr Range kLatRange{kLatMin, kLatMax};

// The bits of v moved to the even positions of a 64-bit word.
uint64_t SpreadEven(uint32_t v) {
  uint64_t x = v;
  x = (x | (x << 16)) & 0x0000ffff0000ffffull;
  x = (x | (x << 8)) & 0x00ff00ff00ff00ffull;
  x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0full;
  x = (x | (x << 2)) & 0x3333333333333333ull;
  x = (x | (x << 1)) & kEvenBits;
  return x;
}

// The inverse: the even bits of x, packed.
uint32_t GatherEven(uint64_t x) {
  x &= kEvenBits;
  x = (x | (x >> 1)) & 0x3333333333333333ull;
  x = (x | (x >> 2)) & 0x0f0f0f0f0f0f0f0full;
  x = (x | (x >> 4)) & 0x00ff00ff00ff00ffull;
  x = (x | (x >> 8)) & 0x0000ffff0000ffffull;
  x = (x | (x >> 16)) & 0x00000000ffffffffull;
  return static_cast<uint32_t>(x);
}

// Latitude in the even bits, longitude in the odd ones.
uint64_t Interleave(uint32_t lat, uint32_t lon) { return SpreadEven(lat) | (SpreadEven(lon) << 1); }

bool RangeIsZero(Range r) { return r.min == 0 && r.max == 0; }

// The neighbouring cell `d_lon` columns east (negative: west) and `d_lat`
// rows north, wrapping around at the edges of the square: the longitude
// index of the cell's 2 * step bits moves by one, modulo 2^step; the other
// axis's bits stay as they are.
HashBits Move(HashBits hash, int d_lon, int d_lat) {
  const uint64_t mask = (uint64_t{1} << hash.step) - 1;  // one axis' index bits
  // +1 or -1 modulo 2^step (adding mask is subtracting one).
  auto moved_by = [mask](uint64_t index, int d) -> uint32_t {
    return static_cast<uint32_t>((index + (d > 0 ? 1 : mask)) & mask);
  };
  if (d_lon != 0) {
    const uint32_t moved = moved_by(GatherEven(hash.bits >> 1), d_lon);
    hash.bits = (hash.bits & kEvenBits) | (SpreadEven(moved) << 1);
  }
  if (d_lat != 0) {
    const uint32_t moved = moved_by(GatherEven(hash.bits), d_lat);
    hash.bits = (hash.bits & ~kEvenBits) | SpreadEven(moved);
  }
  return hash;
}

// The score bits of a double as Redis's `(uint64_t)score` gives them on
// x86-64 (GCC's conversion sequence: a signed truncation below 2^63, else
// one of the value less 2^63 with the top bit flipped; the "indefinite"
// 2^63 for what does not fit). Only scores GEOADD wrote are in range; the
// others decode to whatever point Redis decodes them to.
uint64_t ScoreBits(double score) {
  constexpr double k2Pow63 = 9223372036854775808.0;
  constexpr uint64_t kIndefinite = uint64_t{1} << 63;
  auto truncate = [](double v) -> uint64_t {
    if (!(v >= -k2Pow63 && v < k2Pow63)) return kIndefinite;
    return static_cast<uint64_t>(static_cast<int64_t>(v));
  };
  if (score < k2Pow63) return truncate(score);
  return truncate(score - k2Pow63) ^ kIndefinite;
}

uint64_t Align52(HashBits hash) { return hash.bits << (52 - hash.step * 2); }

// The search bounds of a shape: min/max longitude and latitude. The east
// and west edges use the longitude span at the edge nearer the pole, which
// is the wider one.
struct Bounds {
  double min_lon, min_lat, max_lon, max_lat;
};
Bounds BoundingBox(const Shape& shape) {
  const bool circle = shape.kind == Shape::Kind::kCircle;
  const double height = shape.to_meters * (circle ? shape.radius : shape.height / 2);
  const double width = shape.to_meters * (circle ? shape.radius : shape.width / 2);
  const double lat_delta = RadDeg(height / kEarthRadiusMeters);
  const double lon_delta_top =
      RadDeg(width / kEarthRadiusMeters / std::cos(DegRad(shape.lat + lat_delta)));
  const double lon_delta_bottom =
      RadDeg(width / kEarthRadiusMeters / std::cos(DegRad(shape.lat - lat_delta)));
  const double lon_delta = shape.lat < 0 ? lon_delta_bottom : lon_delta_top;
  return Bounds{shape.lon - lon_delta, shape.lat - lat_delta, shape.lon + lon_delta,
                shape.lat + lat_delta};
}

// Distance along a meridian.
double LatDistance(double lat1, double lat2) {
  return kEarthRadiusMeters * std::fabs(DegRad(lat2) - DegRad(lat1));
}

}  // namespace

bool Encode(Range lon_range, Range lat_range, double lon, double lat, int step, HashBits* out) {
  if (step > 32 || step <= 0 || RangeIsZero(lat_range) || RangeIsZero(lon_range)) return false;
  if (lon > kLonMax || lon < kLonMin || lat > kLatMax || lat < kLatMin) return false;
  if (lat < lat_range.min || lat > lat_range.max || lon < lon_range.min || lon > lon_range.max) {
    return false;
  }
  double lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min);
  double lon_offset = (lon - lon_range.min) / (lon_range.max - lon_range.min);
  // Fixed point with `step` bits: the index of the cell along each axis
  // (the maximum itself lands one past the last cell, as in Redis).
  lat_offset *= static_cast<double>(uint64_t{1} << step);
  lon_offset *= static_cast<double>(uint64_t{1} << step);
  out->bits = Interleave(static_cast<uint32_t>(lat_offset), static_cast<uint32_t>(lon_offset));
  out->step = static_cast<uint8_t>(step);
  return true;
}

bool EncodeWGS84(double lon, double lat, int step, HashBits* out) {
  return Encode(kLonRange, kLatRange, lon, lat, step, out);
}

bool Decode(Range lon_range, Range lat_range, HashBits hash, Area* out) {
  if (hash.zero() || RangeIsZero(lat_range) || RangeIsZero(lon_range)) return false;
  const uint32_t lat_index = GatherEven(hash.bits);
  const uint32_t lon_index = GatherEven(hash.bits >> 1);
  const double lat_scale = lat_range.max - lat_range.min;
  const double lon_scale = lon_range.max - lon_range.min;
  const double cells = static_cast<double>(uint64_t{1} << hash.step);
  // The index after the last wraps to 0 in 32 bits, as Redis's does.
  const uint32_t lat_next = lat_index + 1u;
  const uint32_t lon_next = lon_index + 1u;
  out->lat.min = lat_range.min + (lat_index * 1.0 / cells) * lat_scale;
  out->lat.max = lat_range.min + (lat_next * 1.0 / cells) * lat_scale;
  out->lon.min = lon_range.min + (lon_index * 1.0 / cells) * lon_scale;
  out->lon.max = lon_range.min + (lon_next * 1.0 / cells) * lon_scale;
  return true;
}

bool ScoreOf(double lon, double lat, double* score) {
  HashBits hash;
  if (!EncodeWGS84(lon, lat, kStepMax, &hash)) return false;
  *score = static_cast<double>(Align52(hash));
  return true;
}

void PointOf(double score, double* lon, double* lat) {
  Area area;
  Decode(kLonRange, kLatRange, HashBits{ScoreBits(score), kStepMax}, &area);
  *lon = (area.lon.min + area.lon.max) / 2;
  if (*lon > kLonMax) *lon = kLonMax;
  if (*lon < kLonMin) *lon = kLonMin;
  *lat = (area.lat.min + area.lat.max) / 2;
  if (*lat > kLatMax) *lat = kLatMax;
  if (*lat < kLatMin) *lat = kLatMin;
}

std::string GeohashString(double score) {
  static constexpr char kAlphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
  double lon, lat;
  PointOf(score, &lon, &lat);
  // Redis stores latitudes within the Mercator limits; the standard geohash
  // spans -90..90, so the point is encoded again.
  HashBits hash;
  Encode(Range{-180, 180}, Range{-90, 90}, lon, lat, kStepMax, &hash);
  std::string out(11, '0');
  // 52 bits make 10 characters of 5 bits; the 11th is always '0'.
  for (int i = 0; i < 10; ++i) out[i] = kAlphabet[(hash.bits >> (52 - (i + 1) * 5)) & 0x1f];
  return out;
}

void ScoresOfCell(HashBits hash, uint64_t* min, uint64_t* max) {
  *min = Align52(hash);
  ++hash.bits;
  *max = Align52(hash);
}

double Distance(double lon1, double lat1, double lon2, double lat2) {
  const double lon1r = DegRad(lon1);
  const double lon2r = DegRad(lon2);
  const double v = std::sin((lon2r - lon1r) / 2);
  // Same longitude: the haversine reduces to the latitude difference.
  if (v == 0.0) return LatDistance(lat1, lat2);
  const double lat1r = DegRad(lat1);
  const double lat2r = DegRad(lat2);
  const double u = std::sin((lat2r - lat1r) / 2);
  const double a = u * u + std::cos(lat1r) * std::cos(lat2r) * v * v;
  return 2.0 * kEarthRadiusMeters * std::asin(std::sqrt(a));
}

bool InShape(const Shape& shape, double lon, double lat, double* distance) {
  if (shape.kind == Shape::Kind::kCircle) {
    *distance = Distance(shape.lon, shape.lat, lon, lat);
    return *distance <= shape.radius * shape.to_meters;
  }
  const double width_m = shape.width * shape.to_meters;
  const double height_m = shape.height * shape.to_meters;
  // The cheap test first: the latitude distance needs no trigonometry.
  if (LatDistance(lat, shape.lat) > height_m / 2) return false;
  if (Distance(lon, lat, shape.lon, lat) > width_m / 2) return false;
  *distance = Distance(shape.lon, shape.lat, lon, lat);
  return true;
}

int EstimateStepsByRadius(double range_meters, double lat) {
  if (range_meters == 0) return kStepMax;
  int step = 1;
  while (range_meters < kMercatorMax) {
    range_meters *= 2;
    ++step;
  }
  step -= 2;  // so that the range fits in the 3x3 cells in most cases
  // Meridians converge towards the poles: coarser cells there.
  if (lat > 66 || lat < -66) {
    --step;
    if (lat > 80 || lat < -80) --step;
  }
  if (step < 1) step = 1;
  if (step > kStepMax) step = kStepMax;
  return step;
}

SearchCells CellsForShape(const Shape& shape) {
  const Bounds bounds = BoundingBox(shape);
  // A box is covered as the circle through its corners.
  const double half_w = shape.width / 2;
  const double half_h = shape.height / 2;
  double radius_meters = shape.kind == Shape::Kind::kCircle
                             ? shape.radius
                             : std::sqrt(half_w * half_w + half_h * half_h);
  radius_meters *= shape.to_meters;
  int steps = EstimateStepsByRadius(radius_meters, shape.lat);

  HashBits hash;
  Area area;
  SearchCells out;
  auto compute = [&] {
    EncodeWGS84(shape.lon, shape.lat, steps, &hash);
    out.cells[0] = hash;
    out.cells[1] = Move(hash, 0, 1);    // north
    out.cells[2] = Move(hash, 0, -1);   // south
    out.cells[3] = Move(hash, 1, 0);    // east
    out.cells[4] = Move(hash, -1, 0);   // west
    out.cells[5] = Move(hash, 1, 1);    // north-east
    out.cells[6] = Move(hash, -1, 1);   // north-west
    out.cells[7] = Move(hash, 1, -1);   // south-east
    out.cells[8] = Move(hash, -1, -1);  // south-west
    Decode(kLonRange, kLatRange, hash, &area);
  };
  compute();

  // Near a cell edge the estimate can be one step too fine: a side
  // neighbour that does not reach the bounds would leave part of the area
  // uncovered.
  Area north, south, east, west;
  Decode(kLonRange, kLatRange, out.cells[1], &north);
  Decode(kLonRange, kLatRange, out.cells[2], &south);
  Decode(kLonRange, kLatRange, out.cells[3], &east);
  Decode(kLonRange, kLatRange, out.cells[4], &west);
  const bool decrease = north.lat.max < bounds.max_lat || south.lat.min > bounds.min_lat ||
                        east.lon.max < bounds.max_lon || west.lon.min > bounds.min_lon;
  if (steps > 1 && decrease) {
    --steps;
    compute();
  }

  // Drop the neighbours on a side the area does not reach.
  if (steps >= 2) {
    if (area.lat.min < bounds.min_lat) out.cells[2] = out.cells[8] = out.cells[7] = HashBits{};
    if (area.lat.max > bounds.max_lat) out.cells[1] = out.cells[5] = out.cells[6] = HashBits{};
    if (area.lon.min < bounds.min_lon) out.cells[4] = out.cells[8] = out.cells[6] = HashBits{};
    if (area.lon.max > bounds.max_lon) out.cells[3] = out.cells[7] = out.cells[5] = HashBits{};
  }
  return out;
}

std::string FormatDistance(double d) {
  if (d == 0) return "0.0000";
  const long long scaled = std::llrint(d * 10000.0);
  const bool negative = scaled < 0;
  const auto magnitude = static_cast<unsigned long long>(scaled);
  const unsigned long long v = negative ? 0ull - magnitude : magnitude;
  char buf[32];
  const int len = std::snprintf(buf, sizeof buf, "%s%llu.%04llu", negative ? "-" : "", v / 10000,
                                v % 10000);
  return std::string(buf, static_cast<size_t>(len));
}

}  // namespace causalkv::command::geo
