// FlagSet parsing and help.
#include "core/flags.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace meridian {
namespace {

Status ParseInt(const std::string& name, const std::string& v, int64_t* out) {
  if (v.empty()) return InvalidArgument("--" + name + ": expected an integer, got an empty value");
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (errno != 0 || end != v.c_str() + v.size())
    return InvalidArgument("--" + name + ": expected an integer, got '" + v + "'");
  *out = x;
  return Status::Ok();
}

Status ParseDouble(const std::string& name, const std::string& v, double* out) {
  if (v.empty()) return InvalidArgument("--" + name + ": expected a number, got an empty value");
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v.c_str(), &end);
  if (errno != 0 || end != v.c_str() + v.size() || !std::isfinite(x))
    return InvalidArgument("--" + name + ": expected a finite number, got '" + v + "'");
  *out = x;
  return Status::Ok();
}

}  // namespace

void FlagSet::String(const std::string& name, std::string* target, const std::string& help) {
  flags_.push_back({name, help, *target, false, false, [target](const std::string& v) {
                      *target = v;
                      return Status::Ok();
                    }});
}

void FlagSet::Int(const std::string& name, int64_t* target, const std::string& help) {
  flags_.push_back({name, help, std::to_string(*target), false, false,
                    [name, target](const std::string& v) { return ParseInt(name, v, target); }});
}

void FlagSet::Int32(const std::string& name, int32_t* target, const std::string& help) {
  flags_.push_back({name, help, std::to_string(*target), false, false, [name, target](const std::string& v) {
                      int64_t x = 0;
                      MERIDIAN_RETURN_IF_ERROR(ParseInt(name, v, &x));
                      if (x < INT32_MIN || x > INT32_MAX) return InvalidArgument("--" + name + ": out of range: " + v);
                      *target = static_cast<int32_t>(x);
                      return Status::Ok();
                    }});
}

void FlagSet::Double(const std::string& name, double* target, const std::string& help) {
  std::ostringstream d;
  d << *target;
  flags_.push_back({name, help, d.str(), false, false,
                    [name, target](const std::string& v) { return ParseDouble(name, v, target); }});
}

void FlagSet::Float(const std::string& name, float* target, const std::string& help) {
  std::ostringstream d;
  d << *target;
  flags_.push_back({name, help, d.str(), false, false, [name, target](const std::string& v) {
                      double x = 0;
                      MERIDIAN_RETURN_IF_ERROR(ParseDouble(name, v, &x));
                      *target = static_cast<float>(x);
                      return Status::Ok();
                    }});
}

void FlagSet::Bool(const std::string& name, bool* target, const std::string& help) {
  flags_.push_back({name, help, *target ? "true" : "false", true, false, [name, target](const std::string& v) {
                      if (v == "true" || v == "1" || v == "yes") {
                        *target = true;
                      } else if (v == "false" || v == "0" || v == "no") {
                        *target = false;
                      } else {
                        return InvalidArgument("--" + name + ": expected true or false, got '" + v + "'");
                      }
                      return Status::Ok();
                    }});
}

void FlagSet::StringList(const std::string& name, std::vector<std::string>* target, const std::string& help) {
  flags_.push_back({name, help, "", false, false, [target](const std::string& v) {
                      target->push_back(v);
                      return Status::Ok();
                    }});
}

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool FlagSet::WasSet(const std::string& name) const {
  for (const auto& f : flags_) {
    if (f.name == name) return f.set;
  }
  return false;
}

Status FlagSet::Parse(int argc, char** argv) {
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (only_positional || arg.size() < 2 || arg[0] != '-') {
      positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      help_requested_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) return InvalidArgument("unknown flag '" + arg + "' (flags start with --)");
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    Flag* flag = Find(name);
    if (flag == nullptr && !value && name.rfind("no-", 0) == 0) {
      Flag* negated = Find(name.substr(3));
      if (negated != nullptr && negated->is_bool) {
        negated->set = true;
        MERIDIAN_RETURN_IF_ERROR(negated->apply("false"));
        continue;
      }
    }
    if (flag == nullptr) return InvalidArgument("unknown flag '--" + name + "'");
    if (!value) {
      if (flag->is_bool) {
        value = "true";
      } else {
        if (i + 1 >= argc) return InvalidArgument("--" + name + ": missing value");
        value = argv[++i];
      }
    }
    flag->set = true;
    MERIDIAN_RETURN_IF_ERROR(flag->apply(*value));
  }
  return Status::Ok();
}

std::string FlagSet::Help() const {
  std::string out = "usage: " + usage_ + "\n";
  for (const auto& f : flags_) {
    out += "  --" + f.name;
    if (!f.is_bool) out += " VALUE";
    out += "\n      " + f.help;
    if (!f.default_text.empty()) out += " (default: " + f.default_text + ")";
    out += "\n";
  }
  return out;
}

int HandleFlags(FlagSet& flags, int argc, char** argv) {
  Status s = flags.Parse(argc, argv);
  if (flags.help_requested()) {
    std::fputs(flags.Help().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) {
    std::fprintf(stderr, "meridian %s: %s\nrun 'meridian %s --help' for the flags\n", argv[0], s.message().c_str(),
                 argv[0]);
    return 2;
  }
  return -1;
}

}  // namespace meridian
