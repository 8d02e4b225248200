package bench

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, 100 on every Linux we run on.
const clockTicks = 100

// CPUWatch attributes CPU time (from /proc) to the parts of a benchmark:
// the API server process, the PostgreSQL server (postmaster and its
// children), pgbench, this process, and everything else on the machine by
// command name, which shows when other work competes for the CPUs. Without
// /proc every figure is zero.
type CPUWatch struct {
	ServePid      int // 0: the server runs in this process
	PostmasterPid int // 0: unknown (external database)
}

type procStat struct {
	comm   string
	ppid   int
	ns     uint64 // time on CPU: schedstat of all threads, else utime+stime
	ticks  uint64 // utime+stime (ns): coarse, but counts exited threads
	child  uint64 // cutime+cstime (ns): reaped children
	starts uint64 // start time, to tell a reused pid
}

const tickNs = 1e9 / clockTicks

// CPUSnap is one reading.
type CPUSnap struct {
	At                      time.Time
	busy, total, irq, steal uint64 // machine, in ticks
	procs                   map[int]procStat
	ok                      bool
}

// Snap reads the counters now.
func (w CPUWatch) Snap() CPUSnap {
	s := MachineSnap()
	if !s.ok {
		return s
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProcStat(pid); ok {
			s.procs[pid] = p
		}
	}
	return s
}

// MachineSnap reads the machine's counters only (/proc/stat), which is
// cheap: enough for IdleShare.
func MachineSnap() CPUSnap {
	s := CPUSnap{At: time.Now(), procs: map[int]procStat{}}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	// user nice system idle iowait irq softirq steal (guest is inside user).
	var v [8]uint64
	for i := range v {
		v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
		s.total += v[i]
	}
	s.busy = v[0] + v[1] + v[2] + v[5] + v[6]
	s.irq = v[5] + v[6]
	s.steal = v[7]
	s.ok = true
	return s
}

// IdleShare is the share of the machine's CPU time that was idle (or
// waiting for I/O) from a to b, -1 when unknown.
func IdleShare(a, b CPUSnap) float64 {
	if !a.ok || !b.ok || b.total <= a.total {
		return -1
	}
	idle := (b.total - b.busy - b.steal) - (a.total - a.busy - a.steal)
	return float64(idle) / float64(b.total-a.total)
}

// ProcessCPU is the user+system CPU time pid has used so far, that of its
// exited threads included (utime+stime of /proc/PID/stat; 0 if unknown).
func ProcessCPU(pid int) time.Duration {
	p, _ := readProcStat(pid)
	return time.Duration(p.ticks)
}

// PeakRSS is the peak resident set size (VmHWM) of pid in bytes, 0 if unknown.
func PeakRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if i < 0 || j < i {
		return procStat{}, false
	}
	f := strings.Fields(s[j+1:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15,
	// cutime 16, cstime 17, starttime 22.
	if len(f) < 20 {
		return procStat{}, false
	}
	num := func(k int) uint64 { n, _ := strconv.ParseUint(f[k], 10, 64); return n }
	ppid, _ := strconv.Atoi(f[1])
	p := procStat{comm: s[i+1 : j], ppid: ppid, ticks: (num(11) + num(12)) * tickNs, child: (num(13) + num(14)) * tickNs, starts: num(19)}
	p.ns = p.ticks
	if ns, ok := schedNs(pid); ok {
		p.ns = ns
	}
	return p, true
}

// schedNs sums the first field of /proc/PID/task/*/schedstat: the time each
// thread spent on a CPU, in nanoseconds (precise, unlike the tick-sampled
// utime and stime).
func schedNs(pid int) (uint64, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	var sum uint64
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue
		}
		first, _, _ := strings.Cut(string(b), " ")
		n, err := strconv.ParseUint(first, 10, 64)
		if err != nil {
			return 0, false
		}
		sum += n
	}
	return sum, true
}

// CPUUsage is CPU use over a window, in cores (1.0 = one core busy).
type CPUUsage struct {
	Wall                                         time.Duration
	Machine, Serve, Postgres, Pgbench, Self, IRQ float64
	Steal                                        float64
	Other                                        float64 // busy time of everything else (incl. kernel threads, irq not charged to a task)
	TopOther                                     []NamedCPU
	Cores                                        int
	OK                                           bool
}

// NamedCPU is the use of the processes with one command name.
type NamedCPU struct {
	Name  string
	Cores float64
}

// Usage computes the use between a and b for w's processes. A process
// counts for the ticks it used between the readings (from 0 if it started
// in between). Processes not ours also count the children they reaped in
// between, so that short-lived work (a compiler run by go build) shows
// under its parent's name.
func (w CPUWatch) Usage(a, b CPUSnap, cores int) CPUUsage {
	u := CPUUsage{Wall: b.At.Sub(a.At), Cores: cores}
	if !a.ok || !b.ok || b.total <= a.total {
		return u
	}
	u.OK = true
	totalTicks := float64(b.total - a.total)
	share := func(t uint64) float64 { return float64(t) / totalTicks * float64(cores) }
	u.Machine = share(b.busy - a.busy)
	u.IRQ = share(b.irq - a.irq)
	u.Steal = share(b.steal - a.steal)
	secs := u.Wall.Seconds()
	cpu := func(ns uint64) float64 { return float64(ns) / 1e9 / secs }
	self := os.Getpid()
	others := map[string]uint64{}
	for pid, p := range b.procs {
		var d, dc uint64
		if p0, ok := a.procs[pid]; ok && p0.starts == p.starts {
			if p.ns >= p0.ns {
				d = p.ns - p0.ns
			}
			if p.child >= p0.child {
				dc = p.child - p0.child
			}
		} else {
			d = p.ns
		}
		switch {
		case pid == self:
			u.Self += cpu(d)
		case w.ServePid > 0 && pid == w.ServePid:
			u.Serve += cpu(d)
		case w.PostmasterPid > 0 && pid == w.PostmasterPid:
			u.Postgres += cpu(d + dc) // backends that exited
		case w.PostmasterPid > 0 && p.ppid == w.PostmasterPid:
			u.Postgres += cpu(d)
		case p.comm == "pgbench":
			u.Pgbench += cpu(d)
		case p.ppid == self:
			u.Self += cpu(d) // our own children (go build)
		default:
			if d+dc > 0 {
				others[p.comm] += d + dc
			}
		}
	}
	u.Other = max(0, u.Machine-u.Self-u.Serve-u.Postgres-u.Pgbench)
	for name, t := range others {
		// Reaped children's time covers their whole life, which may
		// exceed the window: never show more than the machine's idle-free share.
		if c := min(cpu(t), u.Other); c >= 0.02 {
			u.TopOther = append(u.TopOther, NamedCPU{name, c})
		}
	}
	sort.Slice(u.TopOther, func(i, j int) bool { return u.TopOther[i].Cores > u.TopOther[j].Cores })
	if len(u.TopOther) > 4 {
		u.TopOther = u.TopOther[:4]
	}
	return u
}

// OtherDetail names the biggest foreign consumers: "schemathesis 0.74, go 0.10".
func (u CPUUsage) OtherDetail() string {
	var parts []string
	for _, o := range u.TopOther {
		parts = append(parts, fmt.Sprintf("%s %.2f", o.Name, o.Cores))
	}
	if u.IRQ >= 0.02 {
		parts = append(parts, fmt.Sprintf("irq/softirq %.2f", u.IRQ))
	}
	if u.Steal >= 0.02 {
		parts = append(parts, fmt.Sprintf("steal %.2f", u.Steal))
	}
	return strings.Join(parts, ", ")
}

// String renders the usage on one line.
func (u CPUUsage) String() string {
	if !u.OK {
		return "CPU use unavailable"
	}
	s := fmt.Sprintf("machine %.2f of %d cores busy: serve %.2f, postgres %.2f, pgbench %.2f, apibench %.2f, other %.2f",
		u.Machine, u.Cores, u.Serve, u.Postgres, u.Pgbench, u.Self, u.Other)
	if d := u.OtherDetail(); d != "" {
		s += " (" + d + ")"
	}
	return s
}
