// Reply encoder for RESP2 and RESP3. Appends to a caller-owned std::string
// (a connection's output buffer); it never writes to a socket.
//
// RESP3-only types degrade the way Redis degrades them for a RESP2 client:
// map -> flat array of 2n elements, set -> array, double -> bulk string,
// boolean -> integer 1/0, null -> $-1 (or *-1 with NullArray), verbatim -> bulk.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace causalkv::resp {

// The text Writer::Double() writes for v: Redis 7.2's d2string(), which is
// also how Redis spells a score inside a plain string reply (ZSCAN).
std::string DoubleToString(double v);

class Writer {
 public:
  explicit Writer(std::string* out, int protocol = 2) : out_(out), protocol_(protocol) {}

  int protocol() const { return protocol_; }
  void set_protocol(int protocol) { protocol_ = protocol; }
  std::string* buffer() { return out_; }

  void SimpleString(std::string_view s);  // "+OK"; s must not contain CR or LF
  void Ok() { out_->append("+OK\r\n", 5); }  // the most common reply: no scan for CR/LF
  // Redis's rule: text that starts with '-' carries its own code
  // ("-WRONGTYPE ..."); otherwise "-ERR " is put in front. CR/LF in the text
  // are replaced by spaces so a reply can never be split.
  void Error(std::string_view text);
  void Integer(int64_t v);
  void Bulk(std::string_view s);
  void Null();       // missing value: RESP2 "$-1", RESP3 "_"
  void NullArray();  // missing aggregate: RESP2 "*-1", RESP3 "_"
  void ArrayHeader(int64_t n);
  void MapHeader(int64_t n);  // n key/value pairs
  void SetHeader(int64_t n);
  void PushHeader(int64_t n);  // RESP3 only ">"; RESP2 "*"
  void Double(double v);       // RESP3 ",<v>"; RESP2 bulk; inf/-inf/nan spelled as Redis does
  // A double already spelled out (Redis's addReplyHumanLongDouble: GEOPOS
  // coordinates): RESP3 ",<text>", RESP2 a bulk string of the text.
  void DoubleText(std::string_view text);
  void Bool(bool v);
  void Verbatim(std::string_view format, std::string_view text);  // format is 3 chars, e.g. "txt"

 private:
  void Header(char prefix, int64_t n);
  std::string* out_;
  int protocol_;
};

}  // namespace causalkv::resp
