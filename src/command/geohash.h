// The geo math of the GEO* commands, as plain functions: Redis's geohash
// encoding of a point into a sorted-set score, its decoding, the haversine
// distance, and the nine geohash boxes a search looks in. No store, no
// protocol.
//
// Everything here reproduces Redis 7.2's arithmetic operation for operation
// (the same constants, the same order of floating-point operations, the same
// libm calls), so that a score, a distance or a search result matches a real
// server to the last digit. The formulas are public (geohash, haversine);
// the exact sequence is what Redis's documentation and its test suite pin.
//
// A point is stored as a 52-bit score: 26 bits of latitude and 26 of
// longitude, interleaved (latitude in the even bits), over the Web Mercator
// square: longitude -180..180, latitude -85.05112878..85.05112878. Cells at a
// coarser `step` (bits per axis) are prefixes of it: a cell of step s covers
// the scores [bits << (52 - 2s), (bits + 1) << (52 - 2s)).
#pragma once

#include <cstdint>
#include <string>

namespace causalkv::command::geo {

constexpr double kLonMin = -180;
constexpr double kLonMax = 180;
constexpr double kLatMin = -85.05112878;
constexpr double kLatMax = 85.05112878;
constexpr int kStepMax = 26;  // bits per axis of a stored score
// Redis's earth radius (meters), for every distance.
constexpr double kEarthRadiusMeters = 6372797.560856;

// A cell: its interleaved bits and its precision (bits per axis). The zero
// value (bits 0, step 0) is "no cell": a neighbour a search skips.
struct HashBits {
  uint64_t bits = 0;
  uint8_t step = 0;
  bool zero() const { return bits == 0 && step == 0; }
  bool operator==(const HashBits&) const = default;
};

struct Range {
  double min, max;
};

struct Area {
  Range lon, lat;
};

// The cell of step `step` (1..32) holding (lon, lat) within the given axis
// ranges; false when the point is outside them or outside the Mercator
// limits above.
bool Encode(Range lon_range, Range lat_range, double lon, double lat, int step, HashBits* out);
// Encode over the Mercator limits.
bool EncodeWGS84(double lon, double lat, int step, HashBits* out);
// The cell's bounds; false for the zero cell.
bool Decode(Range lon_range, Range lat_range, HashBits hash, Area* out);

// The stored score of a point: its step-26 cell aligned to 52 bits. False
// when the point is outside the limits (the caller checked them first).
bool ScoreOf(double lon, double lat, double* score);
// The point a score stands for: the centre of its step-26 cell, clamped to
// the limits. Any double is accepted, as Redis converts it (a score that no
// GEOADD wrote decodes to some point, not an error).
void PointOf(double score, double* lon, double* lat);
// The 11-character standard geohash of a score (Redis's GEOHASH: the point
// re-encoded over latitude -90..90, the last character always '0').
std::string GeohashString(double score);

// The score interval [*min, *max) of the points in a cell.
void ScoresOfCell(HashBits hash, uint64_t* min, uint64_t* max);

// Great-circle distance in meters (haversine; along a meridian when the two
// longitudes are the same, as Redis 7.2).
double Distance(double lon1, double lat1, double lon2, double lat2);

// A search area: a circle (radius) or an axis-aligned box (width, height),
// centred on (lon, lat); sizes are in the unit whose size in meters is
// `to_meters`.
struct Shape {
  enum class Kind { kCircle, kBox } kind = Kind::kCircle;
  double lon = 0, lat = 0;
  double radius = 0;
  double width = 0, height = 0;
  double to_meters = 1;
};
// Whether the point (lon, lat) lies in `shape`; if so, *distance is its
// distance in meters from the centre.
bool InShape(const Shape& shape, double lon, double lat, double* distance);

// The cells a search of `shape` looks in, in Redis's order: the centre's
// cell, then north, south, east, west, north-east, north-west, south-east,
// south-west. Neighbours that cannot hold a match are zero cells.
struct SearchCells {
  HashBits cells[9];
};
SearchCells CellsForShape(const Shape& shape);

// The cell precision Redis picks for a search of that radius at that
// latitude (exposed for tests).
int EstimateStepsByRadius(double range_meters, double lat);

// Redis's distance reply: the value rounded to 4 decimals (llrint of
// d * 10^4, "0.0000" for zero).
std::string FormatDistance(double d);

}  // namespace causalkv::command::geo
