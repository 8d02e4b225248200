package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// errUsage means the usage text was already printed.
var errUsage = errors.New("usage")

// settings is one command's flag set, where every flag also reads an
// environment variable: a flag beats the environment, which beats the
// default. Secret settings never print their values.
type settings struct {
	fs      *flag.FlagSet
	getenv  func(string) string
	entries []setting
	errs    []error
}

type setting struct {
	flag, env, def, help string
	secret               bool
}

func newSettings(cmd, summary string, getenv func(string) string, stderr io.Writer) *settings {
	s := &settings{fs: flag.NewFlagSet(cmd, flag.ContinueOnError), getenv: getenv}
	s.fs.SetOutput(stderr)
	s.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: replicator %s [flags]\n\n%s\n\nSettings (flag, environment variable, default):\n", cmd, summary)
		for _, e := range s.entries {
			def := e.def
			if e.secret {
				def = "(secret, not shown)"
			} else if def == "" {
				def = `""`
			}
			fmt.Fprintf(stderr, "  --%s\n      %s  [env %s, default %s]\n", e.flag, e.help, e.env, def)
		}
	}
	return s
}

func envName(flagName string) string {
	return "REPLICATOR_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (s *settings) lookup(name, env, def string) string {
	if env == "" {
		env = envName(name)
	}
	if v := s.getenv(env); v != "" {
		return v
	}
	return def
}

func (s *settings) add(name, env, def, help string, secret bool) string {
	if env == "" {
		env = envName(name)
	}
	s.entries = append(s.entries, setting{flag: name, env: env, def: def, help: help, secret: secret})
	return s.lookup(name, env, def)
}

// String declares a string setting; env "" means REPLICATOR_<NAME>.
func (s *settings) String(p *string, name, env, def, help string) {
	s.fs.StringVar(p, name, s.add(name, env, def, help, false), help)
}

// Secret declares a string setting whose value is never printed.
func (s *settings) Secret(p *string, name, env, help string) {
	v := s.add(name, env, "", help, true)
	s.fs.Func(name, help, func(x string) error { *p = x; return nil })
	*p = v
}

// Duration declares a duration setting.
func (s *settings) Duration(p *time.Duration, name, def, help string) {
	raw := s.add(name, "", def, help, false)
	d, err := time.ParseDuration(raw)
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s: %q is not a duration", envName(name), raw))
	}
	s.fs.DurationVar(p, name, d, help)
}

// Int declares an integer setting.
func (s *settings) Int(p *int, name string, def int, help string) {
	raw := s.add(name, "", fmt.Sprint(def), help, false)
	var n int
	if _, err := fmt.Sscan(raw, &n); err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s: %q is not an integer", envName(name), raw))
	}
	s.fs.IntVar(p, name, n, help)
}

// Bool declares a boolean setting.
func (s *settings) Bool(p *bool, name string, def bool, help string) {
	raw := s.add(name, "", fmt.Sprint(def), help, false)
	b := raw == "true" || raw == "1"
	if raw != "true" && raw != "false" && raw != "1" && raw != "0" {
		s.errs = append(s.errs, fmt.Errorf("%s: %q is not a boolean", envName(name), raw))
	}
	s.fs.BoolVar(p, name, b, help)
}

// Parse parses args; -h prints the settings and returns errUsage.
func (s *settings) Parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errUsage
		}
		return errUsage
	}
	if s.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", s.fs.Arg(0))
	}
	// An environment error only matters if the flag did not override it.
	var errs []error
	set := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { set[envName(f.Name)] = true })
	for _, e := range s.errs {
		name, _, _ := strings.Cut(e.Error(), ":")
		if !set[name] {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

// logSettings declares the log settings every command shares.
type logConfig struct{ level, format string }

func (s *settings) logging(c *logConfig) {
	s.String(&c.level, "log-level", "", "info", "log level: debug, info, warn or error")
	s.String(&c.format, "log-format", "", "text", "log format: text or json")
}

func (c logConfig) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.level)); err != nil {
		return nil, fmt.Errorf("REPLICATOR_LOG_LEVEL: %q is not a log level", c.level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch c.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("REPLICATOR_LOG_FORMAT: %q must be text or json", c.format)
}
