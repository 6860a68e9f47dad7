// Redis's argument splitting (sdssplitargs): inline requests and config
// file lines. Arguments are separated by blanks; "double quotes" understand
// \n \r \t \b \a \\ \" and \xHH; 'single quotes' understand only \'. A quote
// may open in the middle of an argument, but a closing quote must be followed
// by a blank or the end of the line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace causalkv::util {

// Unescapes every argument of `line` into *storage (cleared first) and
// records each as (offset, length) in *spans, so many arguments cost one
// buffer. Returns false, with both cleared, on unbalanced quotes or a
// closing quote not followed by a blank.
bool SplitArgs(std::string_view line, std::string* storage,
               std::vector<std::pair<size_t, size_t>>* spans);

}  // namespace causalkv::util
