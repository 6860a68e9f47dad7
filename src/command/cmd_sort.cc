// SORT and SORT_RO with Redis 7's semantics: the elements of a list, set or
// sorted set, compared as numbers (or as bytes with ALPHA), optionally by
// weights read from other keys (BY pattern, with "key->field" for hash
// fields, or a pattern without '*' for no sorting), projected through GET
// patterns ("#" is the element), cut by LIMIT, reversed by DESC, and stored
// as a list with STORE.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "cmd_common.h"
#include "errors.h"

namespace causalkv::command {
namespace {

using store::HashValue;
using store::ListValue;
using store::OpStatus;
using store::SetValue;
using store::ZsetValue;

struct SortOptions {
  std::optional<std::string_view> by;
  std::vector<std::string_view> gets;
  int64_t offset = 0;
  int64_t count = -1;
  bool desc = false;
  bool alpha = false;
  std::optional<std::string_view> store;
};

// Options from args[2]; false (error written) when malformed.
bool ParseSortOptions(Context& ctx, bool read_only, SortOptions* o) {
  for (size_t j = 2; j < ctx.args.size(); ++j) {
    const std::string_view opt = ctx.args[j];
    const size_t left = ctx.args.size() - j - 1;
    if (EqualsIgnoreCase(opt, "asc")) {
      o->desc = false;
    } else if (EqualsIgnoreCase(opt, "desc")) {
      o->desc = true;
    } else if (EqualsIgnoreCase(opt, "alpha")) {
      o->alpha = true;
    } else if (EqualsIgnoreCase(opt, "limit") && left >= 2) {
      if (!ParseInt64(ctx.args[j + 1], &o->offset) || !ParseInt64(ctx.args[j + 2], &o->count)) {
        ctx.w.Error(err::kNotInteger);
        return false;
      }
      j += 2;
    } else if (EqualsIgnoreCase(opt, "store") && left >= 1 && !read_only) {
      o->store = ctx.args[++j];
    } else if (EqualsIgnoreCase(opt, "by") && left >= 1) {
      o->by = ctx.args[++j];
    } else if (EqualsIgnoreCase(opt, "get") && left >= 1) {
      o->gets.push_back(ctx.args[++j]);
    } else {
      ctx.w.Error(err::kSyntax);
      return false;
    }
  }
  return true;
}

// The value a BY or GET pattern names for `element`: the first '*' is the
// element, and "key->field" reads a hash field. nullopt for a missing value
// (and for a pattern without '*', which names nothing).
std::optional<std::string> LookupPattern(Context& ctx, std::string_view pattern,
                                         std::string_view element) {
  if (pattern == "#") return std::string(element);
  const size_t star = pattern.find('*');
  if (star == std::string_view::npos) return std::nullopt;
  std::string_view field;
  std::string_view key_pattern = pattern;
  const size_t arrow = pattern.find("->", star);
  if (arrow != std::string_view::npos && arrow + 2 < pattern.size()) {
    field = pattern.substr(arrow + 2);
    key_pattern = pattern.substr(0, arrow);
  }
  std::string key(key_pattern.substr(0, star));
  key.append(element);
  key.append(key_pattern.substr(star + 1));
  const store::SiblingSet* set = LookupRead(ctx, key);
  if (set == nullptr) return std::nullopt;
  const store::Sibling newest = set->newest();
  if (field.empty()) {
    if (newest.typed()) return std::nullopt;
    return std::string(newest.value);
  }
  if (newest.type != store::ValueType::kHash) return std::nullopt;
  std::string_view value;
  if (!static_cast<const HashValue*>(newest.object())->Get(field, &value)) return std::nullopt;
  return std::string(value);
}

struct Item {
  std::string element;
  double score = 0;
  std::optional<std::string> by_value;  // ALPHA with BY
};

// Redis's numeric reading of a sort weight: strtod, whole string, finite range.
bool ParseWeight(const std::string& s, double* out) {
  errno = 0;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return *end == '\0' && errno != ERANGE && !std::isnan(*out);  // "" reads as 0, as in Redis
}

void SortGeneric(Context& ctx, bool read_only) {
  SortOptions o;
  if (!ParseSortOptions(ctx, read_only, &o)) return;
  const store::SiblingSet* set = LookupRead(ctx, ctx.args[1]);
  if (set != nullptr) {
    const store::ValueType type = set->newest().type;
    if (type != store::ValueType::kList && type != store::ValueType::kSet &&
        type != store::ValueType::kZset) {
      ctx.w.Error(err::kWrongType);
      return;
    }
  }
  // A BY pattern without '*' means "do not sort", except for a set that is
  // stored (its order would be arbitrary), which is then sorted as bytes.
  bool sort = !o.by || o.by->find('*') != std::string_view::npos;
  bool alpha = o.alpha;
  std::vector<Item> items;
  store::ValueType type = store::ValueType::kList;
  if (set != nullptr) {
    const store::Sibling newest = set->newest();
    type = newest.type;
    if (type == store::ValueType::kList) {
      const auto* l = static_cast<const ListValue*>(newest.object());
      l->ForRange(0, l->size() - 1, false, [&](std::string_view v, size_t) {
        items.push_back(Item{std::string(v), 0, std::nullopt});
        return true;
      });
    } else if (type == store::ValueType::kSet) {
      static_cast<const SetValue*>(newest.object())->ForEach([&](std::string_view m) {
        items.push_back(Item{std::string(m), 0, std::nullopt});
      });
      if (!sort && o.store) {
        sort = true;
        alpha = true;
        o.by.reset();
      }
    } else {
      const auto* z = static_cast<const ZsetValue*>(newest.object());
      z->ForRankRange(0, z->size() - 1, false, [&](std::string_view m, double) {
        items.push_back(Item{std::string(m), 0, std::nullopt});
        return true;
      });
    }
  }
  if (sort) {
    for (Item& it : items) {
      std::optional<std::string> weight =
          o.by ? LookupPattern(ctx, *o.by, it.element) : std::optional<std::string>(it.element);
      if (alpha) {
        if (o.by) it.by_value = std::move(weight);
        continue;
      }
      if (weight && !ParseWeight(*weight, &it.score)) {
        ctx.w.Error("One or more scores can't be converted into double");
        return;
      }
    }
    const bool by = o.by.has_value();
    std::stable_sort(items.begin(), items.end(), [&](const Item& a, const Item& b) {
      int cmp;
      if (!alpha) {
        cmp = a.score < b.score ? -1 : a.score > b.score ? 1 : a.element.compare(b.element);
      } else if (by) {
        // A missing weight sorts first.
        if (!a.by_value || !b.by_value) {
          cmp = a.by_value.has_value() - b.by_value.has_value();
        } else {
          cmp = a.by_value->compare(*b.by_value);
        }
      } else {
        cmp = a.element.compare(b.element);
      }
      return o.desc ? cmp > 0 : cmp < 0;
    });
  } else if (o.desc && type != store::ValueType::kSet) {
    std::reverse(items.begin(), items.end());  // an unsorted list or zset, read backwards
  }
  // LIMIT as Redis clamps it.
  const auto n = static_cast<int64_t>(items.size());
  int64_t start = o.offset < 0 ? 0 : o.offset;
  int64_t count = o.count < 0 ? n : o.count;
  if (start >= n) {
    start = 0;
    count = 0;
  } else if (count > n - start) {  // no overflow: start < n here
    count = n - start;
  }
  std::vector<std::optional<std::string>> out;
  for (int64_t i = start; i < start + count; ++i) {
    const std::string& element = items[static_cast<size_t>(i)].element;
    if (o.gets.empty()) {
      out.emplace_back(element);
      continue;
    }
    for (std::string_view get : o.gets) out.push_back(LookupPattern(ctx, get, element));
  }
  if (!o.store) {
    ctx.w.ArrayHeader(static_cast<int64_t>(out.size()));
    for (const auto& v : out) {
      if (v) {
        ctx.w.Bulk(*v);
      } else {
        ctx.w.Null();
      }
    }
    return;
  }
  if (out.empty()) {
    if (ctx.db().Delete(*o.store)) Notify(ctx, config::kNotifyGeneric, "del", *o.store);
    ctx.w.Integer(0);
    return;
  }
  ListValue* list = ListValue::Create();
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  for (const auto& v : out) list->PushBack(v ? std::string_view(*v) : std::string_view(), limits);
  const OpStatus status =
      ctx.db().StoreTyped(*o.store, store::ValueType::kList, list, store::TtlUpdate::Clear());
  if (status != OpStatus::kOk) {
    WriteStoreError(ctx.w, status);
    return;
  }
  Notify(ctx, config::kNotifyList, "sortstore", *o.store);
  ctx.w.Integer(static_cast<int64_t>(out.size()));
}

void Sort(Context& ctx) { SortGeneric(ctx, false); }
void SortRo(Context& ctx) { SortGeneric(ctx, true); }

}  // namespace

void RegisterSortCommands(std::vector<CommandSpec>* out) {
  const std::string g = "generic";
  out->push_back({"sort", -2, kWrite | kDenyOom, 1, 1, 1, Sort, g, "1.0.0",
                  "Sorts the elements in a list, a set, or a sorted set, optionally storing the "
                  "result.",
                  "O(N+M*log(M)) where N is the number of elements in the list or set to sort, "
                  "and M the number of returned elements. When the elements are not sorted, "
                  "complexity is O(N).",
                  "key:key [BY=pattern:pattern] [LIMIT=offset:integer] [count:integer] "
                  "[GET=pattern:pattern...] [ASC] [DESC] [ALPHA] [STORE=destination:key]",
                  {}});
  out->push_back({"sort_ro", -2, kReadOnly, 1, 1, 1, SortRo, g, "7.0.0",
                  "Returns the sorted elements of a list, a set, or a sorted set.",
                  "O(N+M*log(M)) where N is the number of elements in the list or set to sort, "
                  "and M the number of returned elements. When the elements are not sorted, "
                  "complexity is O(N).",
                  "key:key [BY=pattern:pattern] [LIMIT=offset:integer] [count:integer] "
                  "[GET=pattern:pattern...] [ASC] [DESC] [ALPHA]",
                  {}});
}

}  // namespace causalkv::command
