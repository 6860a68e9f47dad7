// Geo commands with Redis 7.2 semantics. A geo set is a sorted set whose
// scores are 52-bit geohashes (geohash.h), so GEOADD is ZADD with computed
// scores, the other sorted-set commands work on it, and a search reads the
// score ranges of up to nine geohash cells. The math is in geohash.cc; this
// file parses arguments, reads the set and writes replies, in Redis's order
// of checks and with its error texts.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "cmd_common.h"
#include "cmd_zset.h"
#include "errors.h"
#include "geohash.h"

namespace causalkv::command {
namespace {

using store::ZsetValue;

// Longitude and latitude from args[i], args[i + 1]: false, with the error
// written, when either is not a float or the pair is outside the limits.
bool ParseLonLat(Context& ctx, size_t i, double* lon, double* lat) {
  if (!ParseDouble(ctx.args[i], lon) || !ParseDouble(ctx.args[i + 1], lat)) {
    ctx.w.Error(err::kNotFloat);
    return false;
  }
  if (*lon < geo::kLonMin || *lon > geo::kLonMax || *lat < geo::kLatMin || *lat > geo::kLatMax) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "invalid longitude,latitude pair %f,%f", *lon, *lat);
    ctx.w.Error(buf);
    return false;
  }
  return true;
}

// A unit's size in meters; 0, with the error written, for an unknown unit.
double ParseUnit(Context& ctx, std::string_view unit) {
  if (EqualsIgnoreCase(unit, "m")) return 1;
  if (EqualsIgnoreCase(unit, "km")) return 1000;
  if (EqualsIgnoreCase(unit, "ft")) return 0.3048;
  if (EqualsIgnoreCase(unit, "mi")) return 1609.34;
  ctx.w.Error(err::kGeoUnit);
  return 0;
}

// "radius unit" from args[i].
bool ParseRadius(Context& ctx, size_t i, geo::Shape* shape) {
  double radius;
  if (!ParseDouble(ctx.args[i], &radius)) {
    ctx.w.Error(err::kGeoRadiusNotNumber);
    return false;
  }
  if (radius < 0) {
    ctx.w.Error(err::kGeoRadiusNegative);
    return false;
  }
  shape->radius = radius;
  shape->to_meters = ParseUnit(ctx, ctx.args[i + 1]);
  return shape->to_meters > 0;
}

// "width height unit" from args[i].
bool ParseBox(Context& ctx, size_t i, geo::Shape* shape) {
  double width, height;
  if (!ParseDouble(ctx.args[i], &width)) {
    ctx.w.Error(err::kGeoWidthNotNumber);
    return false;
  }
  if (!ParseDouble(ctx.args[i + 1], &height)) {
    ctx.w.Error(err::kGeoHeightNotNumber);
    return false;
  }
  if (height < 0 || width < 0) {
    ctx.w.Error(err::kGeoBoxNegative);
    return false;
  }
  shape->width = width;
  shape->height = height;
  shape->to_meters = ParseUnit(ctx, ctx.args[i + 2]);
  return shape->to_meters > 0;
}

// The point of `member` in `z`; false when it is not a member.
bool PointOfMember(const ZsetValue& z, std::string_view member, double* lon, double* lat) {
  double score;
  if (!z.Score(member, &score)) return false;
  geo::PointOf(score, lon, lat);
  return true;
}

// Redis's addReplyHumanLongDouble: "%.17Lf" of the value, trailing zeros
// dropped; a double in RESP3.
void WriteCoordinate(Context& ctx, double v) {
  ctx.w.DoubleText(FormatLongDouble(static_cast<long double>(v)));
}

// GEOADD key [NX|XX] [CH] longitude latitude member [...]
void GeoAdd(Context& ctx) {
  ZAddOptions opts;
  size_t first = 2;
  for (; first < ctx.args.size(); ++first) {
    const std::string_view opt = ctx.args[first];
    if (EqualsIgnoreCase(opt, "nx")) {
      opts.nx = true;
    } else if (EqualsIgnoreCase(opt, "xx")) {
      opts.xx = true;
    } else if (EqualsIgnoreCase(opt, "ch")) {
      opts.ch = true;
    } else {
      break;
    }
  }
  const size_t rest = ctx.args.size() - first;
  // No triple left after the options is ZADD's syntax error in Redis.
  if (rest % 3 != 0 || (opts.xx && opts.nx) || rest == 0) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  std::vector<ScoredMember> pairs(rest / 3);
  for (size_t i = 0; i < pairs.size(); ++i) {
    const size_t at = first + i * 3;
    double lon, lat;
    if (!ParseLonLat(ctx, at, &lon, &lat)) return;
    geo::ScoreOf(lon, lat, &pairs[i].score);
    pairs[i].member = ctx.args[at + 2];
  }
  ZAddPairs(ctx, ctx.args[1], opts, pairs);
}

// GEODIST key member1 member2 [M|KM|FT|MI]
void GeoDist(Context& ctx) {
  double to_meters = 1;
  if (ctx.args.size() == 5) {
    to_meters = ParseUnit(ctx, ctx.args[4]);
    if (to_meters == 0) return;
  } else if (ctx.args.size() > 5) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  const ZsetValue* z;
  if (!LookupTyped(ctx, ctx.args[1], &z)) return;
  double lon1, lat1, lon2, lat2;
  if (z == nullptr || !PointOfMember(*z, ctx.args[2], &lon1, &lat1) ||
      !PointOfMember(*z, ctx.args[3], &lon2, &lat2)) {
    ctx.w.Null();
    return;
  }
  ctx.w.Bulk(geo::FormatDistance(geo::Distance(lon1, lat1, lon2, lat2) / to_meters));
}

// GEOHASH key [member ...]
void GeoHash(Context& ctx) {
  const ZsetValue* z;
  if (!LookupTyped(ctx, ctx.args[1], &z)) return;
  ctx.w.ArrayHeader(static_cast<int64_t>(ctx.args.size() - 2));
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    double score;
    if (z != nullptr && z->Score(ctx.args[i], &score)) {
      ctx.w.Bulk(geo::GeohashString(score));
    } else {
      ctx.w.Null();
    }
  }
}

// GEOPOS key [member ...]
void GeoPos(Context& ctx) {
  const ZsetValue* z;
  if (!LookupTyped(ctx, ctx.args[1], &z)) return;
  ctx.w.ArrayHeader(static_cast<int64_t>(ctx.args.size() - 2));
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    double lon, lat;
    if (z == nullptr || !PointOfMember(*z, ctx.args[i], &lon, &lat)) {
      ctx.w.NullArray();
      continue;
    }
    ctx.w.ArrayHeader(2);
    WriteCoordinate(ctx, lon);
    WriteCoordinate(ctx, lat);
  }
}

// --- Searches -------------------------------------------------------------

enum SearchFlag : uint32_t {
  kAroundCoords = 1u << 0,  // GEORADIUS: key lon lat radius unit
  kAroundMember = 1u << 1,  // GEORADIUSBYMEMBER: key member radius unit
  kNoStore = 1u << 2,       // the _RO forms: STORE and STOREDIST refused
  kSearch = 1u << 3,        // GEOSEARCH: FROMMEMBER/FROMLONLAT, BYRADIUS/BYBOX
  kSearchStore = 1u << 4,   // GEOSEARCHSTORE: destination first, STOREDIST flag
};

struct Found {
  std::string member;
  double dist;  // meters from the centre, then in the request's unit
  double score;
  double lon, lat;
};

enum class Sort { kNone, kAsc, kDesc };

// The members of `z` within `shape`, in Redis's order: the cells of
// geo::CellsForShape in turn (a cell the same as the one searched just
// before is skipped), each in score order. With `limit` (ANY), stops once
// that many were found.
std::vector<Found> MembersInShape(const ZsetValue& z, const geo::Shape& shape, size_t limit) {
  std::vector<Found> found;
  const geo::SearchCells cells = geo::CellsForShape(shape);
  size_t last_searched = 0;  // 0 also when the centre was: as Redis, never compared then
  for (size_t i = 0; i < 9; ++i) {
    const geo::HashBits& cell = cells.cells[i];
    if (cell.zero()) continue;
    // A huge radius gives cells so coarse that neighbours coincide.
    if (last_searched != 0 && cell == cells.cells[last_searched]) continue;
    if (limit != 0 && found.size() >= limit) break;
    uint64_t min, max;
    geo::ScoresOfCell(cell, &min, &max);
    const store::ScoreRange range{static_cast<double>(min), static_cast<double>(max), false, true};
    z.ForScoreRange(range, false, 0, [&](std::string_view member, double score) {
      double lon, lat, dist;
      geo::PointOf(score, &lon, &lat);
      if (geo::InShape(shape, lon, lat, &dist)) {
        found.push_back(Found{std::string(member), dist, score, lon, lat});
      }
      return limit == 0 || found.size() < limit;
    });
    last_searched = i;
  }
  return found;
}

// GEORADIUS key lon lat radius unit [options], GEORADIUSBYMEMBER key member
// radius unit [options], their _RO forms, GEOSEARCH key [options] and
// GEOSEARCHSTORE dst key [options]; the source key at args[src].
void SearchGeneric(Context& ctx, size_t src, uint32_t flags) {
  const auto& args = ctx.args;
  const ZsetValue* z;
  if (!LookupTyped(ctx, args[src], &z)) return;

  geo::Shape shape;
  std::string_view store_key;
  bool storing = false;  // STORE, STOREDIST or GEOSEARCHSTORE
  bool store_dist = false;
  size_t base;
  if (flags & kAroundCoords) {
    base = 6;
    if (!ParseLonLat(ctx, 2, &shape.lon, &shape.lat) || !ParseRadius(ctx, 4, &shape)) return;
  } else if ((flags & kAroundMember) && z == nullptr) {
    // No source key: the options are still parsed, for the errors and to
    // know which empty reply (STORE) to give.
    base = 5;
  } else if (flags & kAroundMember) {
    base = 5;
    if (!PointOfMember(*z, args[2], &shape.lon, &shape.lat)) {
      ctx.w.Error(err::kGeoNoMember);
      return;
    }
    if (!ParseRadius(ctx, 3, &shape)) return;
  } else {
    base = 2;
    if (flags & kSearchStore) {
      base = 3;
      store_key = args[1];
      storing = true;
    }
  }

  bool with_dist = false, with_hash = false, with_coords = false;
  bool from_member = false, from_lonlat = false, by_radius = false, by_box = false;
  Sort sort = Sort::kNone;
  bool any = false;
  int64_t count = 0;  // 0: all
  const size_t remaining = args.size() - base;
  for (size_t i = 0; i < remaining; ++i) {
    const std::string_view arg = args[base + i];
    const size_t at = base + i;
    if (EqualsIgnoreCase(arg, "withdist")) {
      with_dist = true;
    } else if (EqualsIgnoreCase(arg, "withhash")) {
      with_hash = true;
    } else if (EqualsIgnoreCase(arg, "withcoord")) {
      with_coords = true;
    } else if (EqualsIgnoreCase(arg, "any")) {
      any = true;
    } else if (EqualsIgnoreCase(arg, "asc")) {
      sort = Sort::kAsc;
    } else if (EqualsIgnoreCase(arg, "desc")) {
      sort = Sort::kDesc;
    } else if (EqualsIgnoreCase(arg, "count") && i + 1 < remaining) {
      if (!ParseInt64(args[at + 1], &count)) {
        ctx.w.Error(err::kNotInteger);
        return;
      }
      if (count <= 0) {
        ctx.w.Error(err::kGeoCount);
        return;
      }
      ++i;
    } else if ((EqualsIgnoreCase(arg, "store") || EqualsIgnoreCase(arg, "storedist")) &&
               i + 1 < remaining && !(flags & kNoStore) && !(flags & kSearch)) {
      store_key = args[at + 1];
      storing = true;
      store_dist = EqualsIgnoreCase(arg, "storedist");
      ++i;
    } else if (EqualsIgnoreCase(arg, "storedist") && (flags & kSearch) &&
               (flags & kSearchStore)) {
      store_dist = true;
    } else if (EqualsIgnoreCase(arg, "frommember") && i + 1 < remaining && (flags & kSearch) &&
               !from_lonlat) {
      // Without a source key the member is not looked up: the reply is
      // empty once the options are checked.
      if (z != nullptr && !PointOfMember(*z, args[at + 1], &shape.lon, &shape.lat)) {
        ctx.w.Error(err::kGeoNoMember);
        return;
      }
      from_member = true;
      ++i;
    } else if (EqualsIgnoreCase(arg, "fromlonlat") && i + 2 < remaining && (flags & kSearch) &&
               !from_member) {
      if (!ParseLonLat(ctx, at + 1, &shape.lon, &shape.lat)) return;
      from_lonlat = true;
      i += 2;
    } else if (EqualsIgnoreCase(arg, "byradius") && i + 2 < remaining && (flags & kSearch) &&
               !by_box) {
      if (!ParseRadius(ctx, at + 1, &shape)) return;
      shape.kind = geo::Shape::Kind::kCircle;
      by_radius = true;
      i += 2;
    } else if (EqualsIgnoreCase(arg, "bybox") && i + 3 < remaining && (flags & kSearch) &&
               !by_radius) {
      if (!ParseBox(ctx, at + 1, &shape)) return;
      shape.kind = geo::Shape::Kind::kBox;
      by_box = true;
      i += 3;
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }

  if (storing && (with_dist || with_hash || with_coords)) {
    const std::string what =
        (flags & kSearchStore) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS";
    ctx.w.Error(what + " is not compatible with WITHDIST, WITHHASH and WITHCOORD options");
    return;
  }
  if ((flags & kSearch) && !(from_member || from_lonlat)) {
    ctx.w.Error("exactly one of FROMMEMBER or FROMLONLAT can be specified for " +
                std::string(args[0]));
    return;
  }
  if ((flags & kSearch) && !(by_radius || by_box)) {
    ctx.w.Error("exactly one of BYRADIUS and BYBOX can be specified for " + std::string(args[0]));
    return;
  }
  if (any && count == 0) {
    ctx.w.Error(err::kGeoAnyWithoutCount);
    return;
  }

  if (z == nullptr) {
    if (storing) {
      ctx.db().Delete(store_key);
      ctx.w.Integer(0);
    } else {
      ctx.w.ArrayHeader(0);
    }
    return;
  }
  // The nearest COUNT need an order; ANY takes the first found instead.
  if (count != 0 && sort == Sort::kNone && !any) sort = Sort::kAsc;

  std::vector<Found> found = MembersInShape(*z, shape, any ? static_cast<size_t>(count) : 0);
  if (found.empty() && !storing) {
    ctx.w.ArrayHeader(0);
    return;
  }
  const size_t returned = count == 0 || found.size() < static_cast<uint64_t>(count)
                              ? found.size()
                              : static_cast<size_t>(count);
  // Redis sorts with glibc's qsort, a stable merge sort here: equal
  // distances keep the order found.
  if (sort == Sort::kAsc) {
    std::stable_sort(found.begin(), found.end(),
                     [](const Found& a, const Found& b) { return a.dist < b.dist; });
  } else if (sort == Sort::kDesc) {
    std::stable_sort(found.begin(), found.end(),
                     [](const Found& a, const Found& b) { return a.dist > b.dist; });
  }
  found.resize(returned);
  for (Found& f : found) f.dist /= shape.to_meters;

  if (storing) {
    std::vector<std::pair<std::string_view, double>> items;
    items.reserve(found.size());
    for (const Found& f : found) items.emplace_back(f.member, store_dist ? f.dist : f.score);
    const char* event = (flags & kSearchStore) ? "geosearchstore" : "georadiusstore";
    if (StoreZset(ctx, store_key, event, items)) {
      ctx.w.Integer(static_cast<int64_t>(found.size()));
    }
    return;
  }
  const int64_t options = (with_dist ? 1 : 0) + (with_hash ? 1 : 0) + (with_coords ? 1 : 0);
  ctx.w.ArrayHeader(static_cast<int64_t>(found.size()));
  for (const Found& f : found) {
    if (options > 0) ctx.w.ArrayHeader(options + 1);
    ctx.w.Bulk(f.member);
    if (with_dist) ctx.w.Bulk(geo::FormatDistance(f.dist));
    if (with_hash) ctx.w.Integer(static_cast<int64_t>(f.score));
    if (with_coords) {
      ctx.w.ArrayHeader(2);
      WriteCoordinate(ctx, f.lon);
      WriteCoordinate(ctx, f.lat);
    }
  }
}

void GeoRadius(Context& ctx) { SearchGeneric(ctx, 1, kAroundCoords); }
void GeoRadiusRo(Context& ctx) { SearchGeneric(ctx, 1, kAroundCoords | kNoStore); }
void GeoRadiusByMember(Context& ctx) { SearchGeneric(ctx, 1, kAroundMember); }
void GeoRadiusByMemberRo(Context& ctx) { SearchGeneric(ctx, 1, kAroundMember | kNoStore); }
void GeoSearch(Context& ctx) { SearchGeneric(ctx, 1, kSearch); }
void GeoSearchStore(Context& ctx) { SearchGeneric(ctx, 2, kSearch | kSearchStore); }

}  // namespace

void RegisterGeoCommands(std::vector<CommandSpec>* out) {
  const std::string g = "geo";
  const uint32_t kWr = kWrite | kDenyOom;
  auto add = [&](const char* name, int arity, uint32_t flags, int first, int last, Handler h,
                 const char* since, const char* summary, const char* complexity,
                 const char* args) {
    out->push_back({name, arity, flags, first, last, first > 0 ? 1 : 0, h, g, since, summary,
                    complexity, args, {}});
  };
  const char* kSearchComplexity =
      "O(N+log(M)) where N is the number of elements inside the bounding box of the circular "
      "area delimited by center and radius and M is the number of items inside the index.";
  add("geoadd", -5, kWr, 1, 1, GeoAdd, "3.2.0",
      "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
      "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
      "key:key [NX|XX] [CH] longitude:double latitude:double member:string...");
  add("geodist", -4, kReadOnly, 1, 1, GeoDist, "3.2.0",
      "Returns the distance between two members of a geospatial index.", "O(1)",
      "key:key member1:string member2:string [M|KM|FT|MI]");
  add("geohash", -2, kReadOnly, 1, 1, GeoHash, "3.2.0",
      "Returns members from a geospatial index as geohash strings.",
      "O(1) for each member requested.", "key:key [member:string...]");
  add("geopos", -2, kReadOnly, 1, 1, GeoPos, "3.2.0",
      "Returns the longitude and latitude of members from a geospatial index.",
      "O(1) for each member requested.", "key:key [member:string...]");
  // GEORADIUS and GEORADIUSBYMEMBER may write a STORE key anywhere among
  // their options: command_table.h ExtraWrittenKey names it, so that the
  // log, replication and blocked clients see the write.
  add("georadius", -6, kWr, 1, 1, GeoRadius, "3.2.0",
      "Queries a geospatial index for members within a distance from a coordinate, optionally "
      "stores the result.",
      kSearchComplexity,
      "key:key longitude:double latitude:double radius:double M|KM|FT|MI [WITHCOORD] "
      "[WITHDIST] [WITHHASH] [COUNT=count:integer] [ANY] [ASC|DESC] [STORE=key:key] "
      "[STOREDIST=key:key]");
  add("georadius_ro", -6, kReadOnly, 1, 1, GeoRadiusRo, "3.2.10",
      "Returns members from a geospatial index that are within a distance from a coordinate.",
      kSearchComplexity,
      "key:key longitude:double latitude:double radius:double M|KM|FT|MI [WITHCOORD] "
      "[WITHDIST] [WITHHASH] [COUNT=count:integer] [ANY] [ASC|DESC]");
  add("georadiusbymember", -5, kWr, 1, 1, GeoRadiusByMember, "3.2.0",
      "Queries a geospatial index for members within a distance from a member, optionally "
      "stores the result.",
      kSearchComplexity,
      "key:key member:string radius:double M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] "
      "[COUNT=count:integer] [ANY] [ASC|DESC] [STORE=key:key] [STOREDIST=key:key]");
  add("georadiusbymember_ro", -5, kReadOnly, 1, 1, GeoRadiusByMemberRo, "3.2.10",
      "Returns members from a geospatial index that are within a distance from a member.",
      kSearchComplexity,
      "key:key member:string radius:double M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] "
      "[COUNT=count:integer] [ANY] [ASC|DESC]");
  add("geosearch", -7, kReadOnly, 1, 1, GeoSearch, "6.2.0",
      "Queries a geospatial index for members inside an area of a box or a circle.",
      "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area "
      "around the shape provided as the filter and M is the number of items inside the shape",
      "key:key [FROMMEMBER=member:string] [FROMLONLAT=longitude:double] [latitude:double] "
      "[BYRADIUS=radius:double] [BYBOX=width:double] [height:double] [M|KM|FT|MI] [ASC|DESC] "
      "[COUNT=count:integer] [ANY] [WITHCOORD] [WITHDIST] [WITHHASH]");
  add("geosearchstore", -8, kWr, 1, 2, GeoSearchStore, "6.2.0",
      "Queries a geospatial index for members inside an area of a box or a circle, optionally "
      "stores the result.",
      "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area "
      "around the shape provided as the filter and M is the number of items inside the shape",
      "destination:key source:key [FROMMEMBER=member:string] [FROMLONLAT=longitude:double] "
      "[latitude:double] [BYRADIUS=radius:double] [BYBOX=width:double] [height:double] "
      "[M|KM|FT|MI] [ASC|DESC] [COUNT=count:integer] [ANY] [STOREDIST]");
}

}  // namespace causalkv::command
