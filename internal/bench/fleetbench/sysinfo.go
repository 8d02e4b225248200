package fleetbench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs      int
	CPUModel  string
	MemoryGiB float64
	Kernel    string
	GoVersion string
	Postgres  string
}

func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), CPUModel: "unknown"}
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
		m.Kernel = runtime.GOOS + " " + strings.TrimSpace(string(b))
	} else {
		m.Kernel = runtime.GOOS
	}
	return m
}

func (m Machine) String() string {
	s := fmt.Sprintf("%d CPUs (%s)", m.CPUs, m.CPUModel)
	if m.MemoryGiB > 0 {
		s += fmt.Sprintf(", %.0f GiB RAM", m.MemoryGiB)
	}
	return s + ", " + m.Kernel + ", " + m.GoVersion
}

// cpuSample is the CPU time used so far by this process and by the
// PostgreSQL server (when it runs on this machine and we know its pid).
type cpuSample struct {
	at                time.Time
	self, pg, machine time.Duration
	pgKnown, mKnown   bool
}

// cpuUse is CPU time over a window, in cores.
type cpuUse struct {
	Self, PG, Other float64
	PGKnown         bool
	OtherKnown      bool
}

func (u cpuUse) String() string {
	s := fmt.Sprintf("fleetbench process (control plane + simulated workers) %.2f cores", u.Self)
	if u.PGKnown {
		s += fmt.Sprintf(", PostgreSQL %.2f cores", u.PG)
	}
	if u.OtherKnown {
		s += fmt.Sprintf(", other processes %.2f cores", max(u.Other, 0))
	}
	return s
}

func sampleCPU(postmaster int) cpuSample {
	s := cpuSample{at: time.Now(), self: selfCPU()}
	if postmaster > 0 {
		s.pg, s.pgKnown = postgresCPU(postmaster)
	}
	s.machine, s.mKnown = machineCPU()
	return s
}

func cpuBetween(a, b cpuSample) cpuUse {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return cpuUse{}
	}
	u := cpuUse{Self: (b.self - a.self).Seconds() / wall}
	if a.pgKnown && b.pgKnown {
		u.PG, u.PGKnown = (b.pg-a.pg).Seconds()/wall, true
	}
	if a.mKnown && b.mKnown {
		u.Other, u.OtherKnown = (b.machine-a.machine).Seconds()/wall-u.Self-u.PG, true
	}
	return u
}

// clockTick is USER_HZ, 100 on every Linux platform Go supports.
const clockTick = 100

// postgresCPU sums the CPU time of the postmaster, its live children and
// (through the postmaster's cutime/cstime) its exited children, from /proc.
func postgresCPU(postmaster int) (time.Duration, bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	var ticks int64
	found := false
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may
		// hold spaces: state ppid ... utime(14) stime(15) cutime(16) cstime(17).
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if pid != postmaster && ppid != postmaster {
			continue
		}
		n := func(k int) int64 { v, _ := strconv.ParseInt(f[k-3], 10, 64); return v }
		ticks += n(14) + n(15)
		if pid == postmaster {
			found = true
			ticks += n(16) + n(17)
		}
	}
	return time.Duration(ticks) * time.Second / clockTick, found
}

// postmasterPID reads the server's pid from its data directory.
func postmasterPID(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

// machineCPU is the busy CPU time of the whole machine (/proc/stat).
func machineCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var ticks int64
	// user nice system idle iowait irq softirq steal: all but idle and iowait.
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTick, true
}
