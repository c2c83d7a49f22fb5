#include "ipvs/convert.h"

namespace kernlb {
namespace ipvs {

static Napi::Value Field(const Napi::Object& o, const char* name) { return o.Get(name); }

static bool Has(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  return !v.IsUndefined() && !v.IsNull();
}

static uint32_t U32(const Napi::Object& o, const char* name, uint32_t def = 0) {
  Napi::Value v = Field(o, name);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("ipvs: ") + name + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint64_t>(d)))
    throw Napi::TypeError::New(o.Env(), std::string("ipvs: ") + name + " must be an unsigned 32-bit integer");
  return static_cast<uint32_t>(d);
}

static std::string Str(const Napi::Object& o, const char* name) {
  Napi::Value v = Field(o, name);
  if (v.IsUndefined() || v.IsNull()) return "";
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("ipvs: ") + name + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

static Addr AddrField(const Napi::Object& o, const char* name, int af) {
  Addr a;
  std::string text = Str(o, name);
  if (!ParseAddr(af, text, &a))
    throw Napi::TypeError::New(o.Env(), std::string("ipvs: ") + name + " \"" + text + "\" is not an address of family " + std::to_string(af));
  return a;
}

static Service ServiceFromJs(const Napi::Object& o) {
  Service s;
  s.af = static_cast<uint16_t>(U32(o, "family", AF_INET));
  s.fwmark = U32(o, "fwmark");
  if (!s.fwmark) {
    s.protocol = static_cast<uint16_t>(U32(o, "protocol"));
    s.addr = AddrField(o, "address", s.af);
    s.port = static_cast<uint16_t>(U32(o, "port"));
  }
  if (Has(o, "scheduler")) {
    s.hasAttrs = true;
    s.sched = Str(o, "scheduler");
    s.flags = U32(o, "flags");
    s.timeout = U32(o, "timeout");
    s.netmask = U32(o, "netmask", s.af == AF_INET6 ? 128 : 0xffffffffu);
    s.pe = Str(o, "pe");
  }
  return s;
}

static Dest DestFromJs(const Napi::Object& o) {
  Dest d;
  d.af = static_cast<uint16_t>(U32(o, "family", AF_INET));
  d.addr = AddrField(o, "address", d.af);
  d.port = static_cast<uint16_t>(U32(o, "port"));
  d.fwd = U32(o, "fwd");
  d.weight = static_cast<int32_t>(U32(o, "weight", 1));
  d.uthresh = U32(o, "upperThreshold");
  d.lthresh = U32(o, "lowerThreshold");
  if (Has(o, "tunType")) {
    d.hasTun = true;
    d.tunType = static_cast<uint8_t>(U32(o, "tunType"));
    d.tunPort = static_cast<uint16_t>(U32(o, "tunPort"));
    d.tunFlags = static_cast<uint16_t>(U32(o, "tunFlags"));
  }
  return d;
}

static Daemon DaemonFromJs(const Napi::Object& o) {
  Daemon d;
  d.state = U32(o, "state", IP_VS_STATE_MASTER);
  d.ifname = Str(o, "ifname");
  d.syncId = U32(o, "syncId");
  d.syncMaxLen = static_cast<uint16_t>(U32(o, "syncMaxLen"));
  std::string group = Str(o, "group");
  if (!group.empty()) {
    if (ParseAddr(AF_INET, group, &d.group)) d.groupAf = AF_INET;
    else if (ParseAddr(AF_INET6, group, &d.group)) d.groupAf = AF_INET6;
    else throw Napi::TypeError::New(o.Env(), "ipvs: group \"" + group + "\" is not an address");
  }
  d.port = static_cast<uint16_t>(U32(o, "port"));
  d.ttl = static_cast<uint8_t>(U32(o, "ttl"));
  return d;
}

Op OpFromJs(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsObject()) throw Napi::TypeError::New(env, "ipvs: an operation must be an object");
  Napi::Object o = v.As<Napi::Object>();
  Op op;
  op.cmd = static_cast<uint8_t>(U32(o, "cmd"));
  if (op.cmd < IPVS_CMD_NEW_SERVICE || op.cmd > IPVS_CMD_FLUSH) throw Napi::TypeError::New(env, "ipvs: unknown command");
  auto obj = [&](const char* name) -> Napi::Object {
    Napi::Value f = o.Get(name);
    if (!f.IsObject()) throw Napi::TypeError::New(env, std::string("ipvs: ") + name + " must be an object");
    return f.As<Napi::Object>();
  };
  if (Has(o, "service")) { op.hasService = true; op.service = ServiceFromJs(obj("service")); }
  if (Has(o, "dest")) { op.hasDest = true; op.dest = DestFromJs(obj("dest")); }
  if (Has(o, "daemon")) { op.hasDaemon = true; op.daemon = DaemonFromJs(obj("daemon")); }
  if (Has(o, "timeouts")) {
    Napi::Object t = obj("timeouts");
    op.hasTimeouts = true;
    op.timeouts.tcp = U32(t, "tcp");
    op.timeouts.tcpFin = U32(t, "tcpFin");
    op.timeouts.udp = U32(t, "udp");
  }
  return op;
}

// Property names created once per conversion and reused: napi_set_named_property would make (and
// hash) a new key string for every property of every object, which dominated big listings.
enum Key {
  kFamily, kProtocol, kAddress, kPort, kFwmark, kScheduler, kFlags, kTimeout, kNetmask, kPe, kStats,
  kFwd, kWeight, kUpper, kLower, kActive, kInact, kPersist, kTunType, kTunPort, kTunFlags,
  kConnections, kPacketsIn, kPacketsOut, kBytesIn, kBytesOut, kRates, kKeyCount
};
static const char* const kKeyNames[kKeyCount] = {
  "family", "protocol", "address", "port", "fwmark", "scheduler", "flags", "timeout", "netmask", "pe", "stats",
  "fwd", "weight", "upperThreshold", "lowerThreshold", "activeConns", "inactConns", "persistConns", "tunType",
  "tunPort", "tunFlags", "connections", "packetsIn", "packetsOut", "bytesIn", "bytesOut", "rates",
};

Keys::Keys(Napi::Env env) {
  v_.reserve(kKeyCount);
  for (int i = 0; i < kKeyCount; i++) v_.push_back(Napi::String::New(env, kKeyNames[i]));
}

// Counters are u64 in the kernel; JS numbers are exact to 2^53, far beyond any real counter. Built
// directly in the public Stats shape (lib/ipvs/types.ts): listings of 100k destinations allocate
// nothing more on the TypeScript side.
static Napi::Object StatsToJs(Napi::Env env, const Keys& k, const Stats& s) {
  auto n = [&](Napi::Object& o, Key key, uint64_t v) { o.Set(k[key], Napi::Number::New(env, static_cast<double>(v))); };
  Napi::Object rates = Napi::Object::New(env);
  n(rates, kConnections, s.cps);
  n(rates, kPacketsIn, s.inpps);
  n(rates, kPacketsOut, s.outpps);
  n(rates, kBytesIn, s.inbps);
  n(rates, kBytesOut, s.outbps);
  Napi::Object o = Napi::Object::New(env);
  n(o, kConnections, s.conns);
  n(o, kPacketsIn, s.inpkts);
  n(o, kPacketsOut, s.outpkts);
  n(o, kBytesIn, s.inbytes);
  n(o, kBytesOut, s.outbytes);
  o.Set(k[kRates], rates);
  return o;
}

Napi::Object ServiceToJs(Napi::Env env, const Keys& k, const Service& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set(k[kFamily], s.af);
  o.Set(k[kProtocol], s.protocol);
  o.Set(k[kAddress], FormatAddr(s.af, s.addr));
  o.Set(k[kPort], s.port);
  o.Set(k[kFwmark], s.fwmark);
  o.Set(k[kScheduler], s.sched);
  o.Set(k[kFlags], s.flags);
  o.Set(k[kTimeout], s.timeout);
  o.Set(k[kNetmask], s.netmask);
  o.Set(k[kPe], s.pe);
  o.Set(k[kStats], StatsToJs(env, k, s.stats));
  return o;
}

Napi::Object DestToJs(Napi::Env env, const Keys& k, const Dest& d, uint16_t serviceAf) {
  // Kernels before 3.18 send no ADDR_FAMILY: the destination then has the service's family
  // (never assume IPv6 because the address field is 16 bytes).
  uint16_t af = d.af ? d.af : serviceAf;
  Napi::Object o = Napi::Object::New(env);
  o.Set(k[kFamily], af);
  o.Set(k[kAddress], FormatAddr(af, d.addr));
  o.Set(k[kPort], d.port);
  o.Set(k[kFwd], d.fwd);
  o.Set(k[kWeight], d.weight);
  o.Set(k[kUpper], d.uthresh);
  o.Set(k[kLower], d.lthresh);
  o.Set(k[kActive], d.activeConns);
  o.Set(k[kInact], d.inactConns);
  o.Set(k[kPersist], d.persistConns);
  if (d.hasTun) {
    o.Set(k[kTunType], d.tunType);
    o.Set(k[kTunPort], d.tunPort);
    o.Set(k[kTunFlags], d.tunFlags);
  }
  o.Set(k[kStats], StatsToJs(env, k, d.stats));
  return o;
}

Napi::Object DaemonToJs(Napi::Env env, const Daemon& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", d.state);
  o.Set("ifname", d.ifname);
  o.Set("syncId", d.syncId);
  o.Set("syncMaxLen", d.syncMaxLen);
  if (d.groupAf) o.Set("group", FormatAddr(d.groupAf, d.group));
  o.Set("port", d.port);
  o.Set("ttl", d.ttl);
  return o;
}

Napi::Object TimeoutsToJs(Napi::Env env, const Timeouts& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("tcp", t.tcp);
  o.Set("tcpFin", t.tcpFin);
  o.Set("udp", t.udp);
  return o;
}

Napi::Object InfoToJs(Napi::Env env, const Info& i) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", i.version);
  o.Set("connTabSize", i.connTabSize);
  return o;
}

Napi::Value ReplyToJs(Napi::Env env, const Reply& r) {
  Napi::Object o;
  switch (r.kind) {
    case Reply::kService: o = ServiceToJs(env, Keys(env), r.service); o.Set("kind", "service"); return o;
    case Reply::kDest: o = DestToJs(env, Keys(env), r.dest, AF_INET); o.Set("kind", "dest"); return o;
    case Reply::kDaemon: o = DaemonToJs(env, r.daemon); o.Set("kind", "daemon"); return o;
    case Reply::kConfig: o = TimeoutsToJs(env, r.timeouts); o.Set("kind", "config"); return o;
    case Reply::kInfo: o = InfoToJs(env, r.info); o.Set("kind", "info"); return o;
    case Reply::kNone: break;
  }
  o = Napi::Object::New(env);
  o.Set("kind", "none");
  return o;
}

}  // namespace ipvs
}  // namespace kernlb
