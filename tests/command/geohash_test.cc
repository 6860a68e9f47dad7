// The geo math against values a real Redis (7.0.15 and the 7.2 formulas)
// gives for the same input: scores, decoded points, GEOHASH strings,
// distances and their 4-decimal text, the search precision and cells.
#include "geohash.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace causalkv::command::geo {
namespace {

// Redis prints coordinates with "%.17Lf" (trailing zeros dropped); the
// digits of the double are what matters here.
std::string Fixed17(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17f", v);
  return buf;
}

double Score(double lon, double lat) {
  double score = -1;
  EXPECT_TRUE(ScoreOf(lon, lat, &score));
  return score;
}

TEST(GeohashTest, ScoresAreRedisGeohashes) {
  // GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
  EXPECT_EQ(Score(13.361389, 38.115556), 3479099956230698.0);
  EXPECT_EQ(Score(15.087269, 37.502669), 3479447370796909.0);
  // The corner of the square lands one past the last cell on both axes.
  EXPECT_EQ(Score(180, 85.05112878), 13510798882111488.0);
  EXPECT_EQ(Score(-180, -85.05112878), 0.0);
}

TEST(GeohashTest, OutsideTheLimitsHasNoScore) {
  double score;
  EXPECT_FALSE(ScoreOf(180.000001, 0, &score));
  EXPECT_FALSE(ScoreOf(0, 85.06, &score));
  EXPECT_FALSE(ScoreOf(0, -85.06, &score));
}

TEST(GeohashTest, PointsAreCellCentres) {
  double lon, lat;
  PointOf(3479099956230698.0, &lon, &lat);
  EXPECT_EQ(Fixed17(lon), "13.36138933897018433");
  EXPECT_EQ(Fixed17(lat), "38.11555639549629859");
  PointOf(3479447370796909.0, &lon, &lat);
  EXPECT_EQ(Fixed17(lon), "15.08726745843887329");
  EXPECT_EQ(Fixed17(lat), "37.50266842333162032");
}

TEST(GeohashTest, AnyScoreDecodesAsRedisDecodesIt) {
  // Scores no GEOADD wrote (a plain ZADD): Redis converts them with a C cast
  // and clamps the result to the limits.
  double lon, lat;
  PointOf(0, &lon, &lat);
  EXPECT_EQ(Fixed17(lon), "-179.99999731779098511");
  EXPECT_EQ(Fixed17(lat), "-85.05112751263942528");
  PointOf(-1, &lon, &lat);
  EXPECT_EQ(lon, 180);
  EXPECT_EQ(Fixed17(lat), "85.05112877999999910");
  PointOf(4503599627370495.0, &lon, &lat);  // 2^52 - 1
  EXPECT_EQ(Fixed17(lon), "179.99999731779098511");
  EXPECT_EQ(Fixed17(lat), "85.05112751263942528");
  PointOf(9007199254740992.0, &lon, &lat);  // 2^53
  EXPECT_EQ(lon, 180);
  EXPECT_EQ(Fixed17(lat), "-85.05112751263942528");
  // What x86-64 gives for a double out of the uint64 range: 0, or the top bit.
  PointOf(-INFINITY, &lon, &lat);
  EXPECT_EQ(lon, 180);
  EXPECT_EQ(Fixed17(lat), "-85.05112751263942528");
  for (double odd : {1e30, double{INFINITY}, 18446744073709551615.0}) {
    PointOf(odd, &lon, &lat);
    EXPECT_EQ(Fixed17(lon), "-179.99999731779098511") << odd;
    EXPECT_EQ(Fixed17(lat), "-85.05112751263942528") << odd;
  }
}

TEST(GeohashTest, GeohashStrings) {
  EXPECT_EQ(GeohashString(3479099956230698.0), "sqc8b49rny0");
  EXPECT_EQ(GeohashString(3479447370796909.0), "sqdtr74hyu0");
  EXPECT_EQ(GeohashString(13510798882111488.0), "bp05b5048p0");
  EXPECT_EQ(GeohashString(0), "00bh0hbj200");
  EXPECT_EQ(GeohashString(4503599627370495.0), "zzpgzgpfxz0");
}

TEST(GeohashTest, Distances) {
  double lon1, lat1, lon2, lat2;
  PointOf(3479099956230698.0, &lon1, &lat1);
  PointOf(3479447370796909.0, &lon2, &lat2);
  const double d = Distance(lon1, lat1, lon2, lat2);
  EXPECT_EQ(FormatDistance(d), "166274.1516");
  EXPECT_EQ(FormatDistance(d / 1000), "166.2742");
  EXPECT_EQ(FormatDistance(d / 1609.34), "103.3182");
  EXPECT_EQ(FormatDistance(Distance(15, 37, lon1, lat1) / 1000), "190.4424");
  EXPECT_EQ(Distance(lon1, lat1, lon1, lat1), 0);
}

TEST(GeohashTest, SameLongitudeIsAMeridianArc) {
  // Redis 7.2: no haversine when the longitudes are equal.
  const double expected = kEarthRadiusMeters * std::fabs(20 * (M_PI / 180.0) - 10 * (M_PI / 180.0));
  EXPECT_EQ(Distance(5, 10, 5, 20), expected);
}

TEST(GeohashTest, FormatDistanceRoundsToFourDecimals) {
  EXPECT_EQ(FormatDistance(0), "0.0000");
  EXPECT_EQ(FormatDistance(-0.0), "0.0000");
  EXPECT_EQ(FormatDistance(12), "12.0000");
  EXPECT_EQ(FormatDistance(1.23456), "1.2346");
  EXPECT_EQ(FormatDistance(0.0001), "0.0001");
  EXPECT_EQ(FormatDistance(0.00004), "0.0000");
  EXPECT_EQ(FormatDistance(20037726.123456), "20037726.1235");
}

TEST(GeohashTest, StepsByRadius) {
  EXPECT_EQ(EstimateStepsByRadius(0, 0), 26);
  EXPECT_EQ(EstimateStepsByRadius(200000, 37), 6);
  EXPECT_EQ(EstimateStepsByRadius(200000, 70), 5);   // towards the poles: coarser
  EXPECT_EQ(EstimateStepsByRadius(200000, -85), 4);
  EXPECT_EQ(EstimateStepsByRadius(1, 0), 24);
  EXPECT_EQ(EstimateStepsByRadius(0.001, 0), 26);   // clamped
  EXPECT_EQ(EstimateStepsByRadius(5e7, 0), 1);
}

TEST(GeohashTest, EncodeDecodeRoundTripsACell) {
  HashBits hash;
  ASSERT_TRUE(EncodeWGS84(15, 37, 6, &hash));
  EXPECT_EQ(hash.step, 6);
  Area area;
  ASSERT_TRUE(Decode(Range{-180, 180}, Range{kLatMin, kLatMax}, hash, &area));
  EXPECT_LE(area.lon.min, 15);
  EXPECT_GT(area.lon.max, 15);
  EXPECT_LE(area.lat.min, 37);
  EXPECT_GT(area.lat.max, 37);
  EXPECT_DOUBLE_EQ(area.lon.max - area.lon.min, 360.0 / 64);
  EXPECT_FALSE(Decode(Range{-180, 180}, Range{kLatMin, kLatMax}, HashBits{}, &area));
  uint64_t min, max;
  ScoresOfCell(hash, &min, &max);
  EXPECT_EQ(min, hash.bits << 40);
  EXPECT_EQ(max, (hash.bits + 1) << 40);
}

Area AreaOf(HashBits h) {
  Area a{};
  Decode(Range{-180, 180}, Range{kLatMin, kLatMax}, h, &a);
  return a;
}

TEST(GeohashTest, SearchCellsAreTheCentreAndItsNeighbours) {
  Shape shape;
  shape.lon = 15;
  shape.lat = 37;
  shape.radius = 200;
  shape.to_meters = 1000;
  const SearchCells cells = CellsForShape(shape);
  const Area centre = AreaOf(cells.cells[0]);
  EXPECT_EQ(cells.cells[0].step, 6);
  EXPECT_LE(centre.lon.min, 15);
  EXPECT_GT(centre.lon.max, 15);
  for (const HashBits& cell : cells.cells) {
    if (!cell.zero()) {
      EXPECT_EQ(cell.step, cells.cells[0].step);
    }
  }
  // The circle (lon 12.75..17.25, lat 35.2..38.8) leaves the centre cell
  // (lon 11.25..16.875) only to the north and east: the other sides' cells
  // are dropped.
  EXPECT_EQ(AreaOf(cells.cells[1]).lat.min, centre.lat.max);  // north
  EXPECT_EQ(AreaOf(cells.cells[3]).lon.min, centre.lon.max);  // east
  EXPECT_EQ(AreaOf(cells.cells[5]).lat.min, centre.lat.max);  // north-east
  EXPECT_EQ(AreaOf(cells.cells[5]).lon.min, centre.lon.max);
  for (int dropped : {2, 4, 6, 7, 8}) EXPECT_TRUE(cells.cells[dropped].zero()) << dropped;
}

TEST(GeohashTest, NeighboursWrapAroundTheAntimeridian) {
  Shape shape;
  shape.lon = 179.9;
  shape.lat = 0;
  shape.radius = 50;
  shape.to_meters = 1000;
  const SearchCells cells = CellsForShape(shape);
  ASSERT_FALSE(cells.cells[3].zero());  // east: across 180
  EXPECT_EQ(AreaOf(cells.cells[3]).lon.min, -180);
  EXPECT_EQ(AreaOf(cells.cells[0]).lon.max, 180);
}

TEST(GeohashTest, BoxAndCircleMembership) {
  Shape circle;
  circle.lon = 15;
  circle.lat = 37;
  circle.radius = 200;
  circle.to_meters = 1000;
  double dist;
  EXPECT_TRUE(InShape(circle, 15.087269, 37.502669, &dist));
  EXPECT_EQ(FormatDistance(dist / 1000), "56.4413");
  EXPECT_FALSE(InShape(circle, 10, 37, &dist));

  Shape box = circle;
  box.kind = Shape::Kind::kBox;
  box.width = 400;
  box.height = 100;
  EXPECT_FALSE(InShape(box, 15.087269, 37.502669, &dist));  // 56 km north: half height is 50
  box.height = 150;
  EXPECT_TRUE(InShape(box, 15.087269, 37.502669, &dist));
  EXPECT_EQ(FormatDistance(dist / 1000), "56.4413");
  EXPECT_FALSE(InShape(box, 15, 38, &dist));  // 111 km north
  EXPECT_TRUE(InShape(box, 17, 37, &dist));   // 178 km east: inside the 200 km half width
  EXPECT_FALSE(InShape(box, 17.5, 37, &dist));  // 222 km east
}

}  // namespace
}  // namespace causalkv::command::geo
