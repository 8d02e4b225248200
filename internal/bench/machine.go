package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where a benchmark ran.
type Machine struct {
	CPUs       int
	GOMAXPROCS int
	CPUModel   string
	MemoryGiB  float64 // 0: unknown
	Kernel     string  // "linux 6.18.44"
	GoVersion  string
	Postgres   string // "PostgreSQL 15.18", set by the benchmarks that use one
}

// DescribeMachine reads /proc for the CPU model, memory and kernel.
func DescribeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		CPUModel: "unknown (" + runtime.GOARCH + ")", Kernel: runtime.GOOS}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64); err == nil {
					m.MemoryGiB = kb / (1 << 20)
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel += " " + strings.TrimSpace(string(b))
	}
	return m
}

// String is "2 CPUs (model), 24 GiB RAM, linux 6.18.44, go1.26.8".
func (m Machine) String() string {
	s := fmt.Sprintf("%d CPUs (%s)", m.CPUs, m.CPUModel)
	if m.MemoryGiB > 0 {
		s += fmt.Sprintf(", %.0f GiB RAM", m.MemoryGiB)
	}
	return s + ", " + m.Kernel + ", " + m.GoVersion
}
