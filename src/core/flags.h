// Command-line flags for the subcommands: --name VALUE or --name=VALUE, typed, with help text and
// clear errors ("--threads: expected an integer, got 'x'"). Unknown flags are errors.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace meridian {

class FlagSet {
 public:
  //! `usage` is the first help line, e.g. "meridian generate [flags]".
  explicit FlagSet(std::string usage) : usage_(std::move(usage)) {}

  // Each registers a flag bound to *target, which holds the default until Parse.
  void String(const std::string& name, std::string* target, const std::string& help);
  void Int(const std::string& name, int64_t* target, const std::string& help);
  void Int32(const std::string& name, int32_t* target, const std::string& help);
  void Double(const std::string& name, double* target, const std::string& help);
  void Float(const std::string& name, float* target, const std::string& help);
  //! A bool flag: `--name` sets true, `--name=false` / `--no-name` sets false.
  void Bool(const std::string& name, bool* target, const std::string& help);
  //! A flag that may repeat (each occurrence appended).
  void StringList(const std::string& name, std::vector<std::string>* target, const std::string& help);

  //! Parses argv[1..argc) (argv[0] is the command name). Non-flag arguments are collected in
  //! positional(). Returns InvalidArgument naming the flag on any error; sets help_requested()
  //! for -h/--help.
  Status Parse(int argc, char** argv);
  bool help_requested() const { return help_requested_; }
  const std::vector<std::string>& positional() const { return positional_; }
  //! True if the flag appeared on the command line.
  bool WasSet(const std::string& name) const;
  //! The usage line and every flag with its default and help.
  std::string Help() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    bool set = false;
    std::function<Status(const std::string&)> apply;
  };
  Flag* Find(const std::string& name);
  std::string usage_;
  std::vector<Flag> flags_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

//! Runs a subcommand body: parses flags, prints help (exit 0) or the error and help hint (exit 2).
//! Returns -1 when the caller should continue.
int HandleFlags(FlagSet& flags, int argc, char** argv);

}  // namespace meridian
