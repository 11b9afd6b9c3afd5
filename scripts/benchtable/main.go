// Command benchtable reads the output of scripts/bench.sh (go test -bench
// output of several interleaved rounds, each round introduced by a line
// "# round N") and prints one markdown table: for each headline figure the
// median over the rounds, the target from issue 13, the ratio against its
// baseline (the median of the per-round ratios, both measured in the same
// round) and whether the target is met.
//
//	go run ./scripts/benchtable < bench-out.txt
//
// With -compare it reads the output of scripts/bench-compare.sh instead
// (benchmark lines prefixed by "base" or "tree", alternating round by
// round) and prints, for each metric, both medians, the ratio of the
// medians and the median and range of the per-round ratios.
//
// It computes medians itself instead of running benchstat: the table needs
// per-round ratios between different benchmarks, which benchstat does not
// compute, and no tool has to be installed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// key names one metric of one benchmark, e.g. {"RemoteAsk/host-to-guest", "p50-us"}.
type key struct{ bench, unit string }

// samples holds, per round, the values of each metric.
type samples map[key]map[int]float64

func parse(r io.Reader) (samples, error) {
	s := samples{}
	round := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# round "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				return nil, fmt.Errorf("bad round line %q", line)
			}
			round = n
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // the GOMAXPROCS suffix
			}
		}
		// BenchmarkLocalTell and BenchmarkRemoteAsk run with observability
		// off and on (obs=none, obs=metrics, obs=tracing); the headline is
		// obs=none (LocalTell/obs=none, RemoteAsk/obs=none/host-to-guest).
		name = strings.TrimSuffix(name, "/obs=none")
		name = strings.Replace(name, "/obs=none/", "/", 1)
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			k := key{name, f[i+1]}
			if s[k] == nil {
				s[k] = map[int]float64{}
			}
			s[k][round] = v
		}
	}
	return s, sc.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (s samples) values(k key) []float64 {
	var out []float64
	for _, v := range s[k] {
		out = append(out, v)
	}
	return out
}

// ratios are value ÷ baseline for the rounds that have both.
func (s samples) ratios(a, b key) []float64 {
	var out []float64
	for r, va := range s[a] {
		if vb, ok := s[b][r]; ok && vb != 0 {
			out = append(out, va/vb)
		}
	}
	return out
}

// row is one line of the table. The target applies to the value (ratio
// false) or to the ratio against the baseline (ratio true).
type row struct {
	figure   string
	value    key
	base     key // zero: no baseline
	ratio    bool
	op       string // "<=" or ">="; "" for a record without a target
	target   float64
	scale    float64 // shown value = value × scale
	unit     string  // shown unit
	baseName string
}

var rows = []row{
	{figure: "remote tell into a guest", value: key{"RemoteTell", "msgs/s"}, base: key{"ProtoActorRemoteTell", "msgs/s"}, baseName: "Proto.Actor", op: ">=", target: 2.5e6, scale: 1e-6, unit: "M msgs/s"},
	{figure: "remote tell ÷ Proto.Actor's", value: key{"RemoteTell", "msgs/s"}, base: key{"ProtoActorRemoteTell", "msgs/s"}, baseName: "Proto.Actor", ratio: true, op: ">=", target: 1.2, scale: 1e-6, unit: "M msgs/s"},
	{figure: "remote tell with Context.Post (batched) ÷ Proto.Actor's", value: key{"RemotePost", "msgs/s"}, base: key{"ProtoActorRemoteTell", "msgs/s"}, baseName: "Proto.Actor", ratio: true, op: ">=", target: 1.2, scale: 1e-6, unit: "M msgs/s"},
	{figure: "remote ask p50, host→guest", value: key{"RemoteAsk/host-to-guest", "p50-us"}, base: key{"ProtoActorRemoteAsk", "p50-us"}, baseName: "Proto.Actor", op: "<=", target: 33, scale: 1, unit: "µs"},
	{figure: "remote ask p50, guest→guest", value: key{"RemoteAsk/guest-to-guest", "p50-us"}, base: key{"ProtoActorRemoteAsk", "p50-us"}, baseName: "Proto.Actor", op: "<=", target: 38, scale: 1, unit: "µs"},
	{figure: "remote ask p99, host→guest", value: key{"RemoteAsk/host-to-guest", "p99-us"}, base: key{"ProtoActorRemoteAsk", "p99-us"}, baseName: "Proto.Actor", op: "<=", target: 150, scale: 1, unit: "µs"},
	{figure: "remote ask p99 ÷ Proto.Actor's, host→guest", value: key{"RemoteAsk/host-to-guest", "p99-us"}, base: key{"ProtoActorRemoteAsk", "p99-us"}, baseName: "Proto.Actor", ratio: true, op: "<=", target: 0.5, scale: 1, unit: "µs"},
	{figure: "remote ask p99, guest→guest", value: key{"RemoteAsk/guest-to-guest", "p99-us"}, base: key{"ProtoActorRemoteAsk", "p99-us"}, baseName: "Proto.Actor", op: "<=", target: 150, scale: 1, unit: "µs"},
	{figure: "transport one-way ÷ raw quic-go", value: key{"TransportOneWay", "msgs/s"}, base: key{"RawQUICOneWay", "msgs/s"}, baseName: "raw quic-go", ratio: true, op: ">=", target: 0.85, scale: 1e-6, unit: "M msgs/s"},
	{figure: "local tell guest→guest, one node", value: key{"LocalTell", "msgs/s"}, op: ">=", target: 4e6, scale: 1e-6, unit: "M msgs/s"},
	{figure: "local tell with Context.Post (batched), one node", value: key{"LocalPost", "msgs/s"}, op: ">=", target: 4e6, scale: 1e-6, unit: "M msgs/s"},
	{figure: "spawn into a running instance", value: key{"Spawn", "spawns/s"}, op: ">=", target: 300e3, scale: 1e-3, unit: "k spawns/s"},
	{figure: "remote spawn, new 4 MB module (cold)", value: key{"RemoteSpawnCold", "ms/op"}, op: "<=", target: 400, scale: 1, unit: "ms"},
	{figure: "… of which the pull", value: key{"RemoteSpawnCold", "pull-ms"}, scale: 1, unit: "ms"},
	{figure: "remote spawn (cold), node with InterpretPulledModules: first answer", value: key{"RemoteSpawnColdInterpreted", "ms/op"}, op: "<=", target: 400, scale: 1, unit: "ms"},
	{figure: "… until the actor runs compiled code", value: key{"RemoteSpawnColdInterpreted", "compiled-ms"}, scale: 1, unit: "ms"},
	{figure: "%A idle actors: spawn time", value: key{"MillionActors", "spawn-s"}, op: "<=", target: 5, scale: 1, unit: "s"},
	{figure: "%A idle actors: process RSS", value: key{"MillionActors", "rss-MB"}, op: "<=", target: 600, scale: 1, unit: "MB"},
	{figure: "%A idle actors: process RSS once freed memory is returned (FreeOSMemory)", value: key{"MillionActors", "rss-settled-MB"}, scale: 1, unit: "MB"},
	{figure: "%A idle actors: Go heap, live objects", value: key{"MillionActors", "heap-MB"}, scale: 1, unit: "MB"},
	{figure: "memory per idle actor (RSS growth over %A actors)", value: key{"MillionActors", "rss-B/actor"}, scale: 1, unit: "B"},
	{figure: "memory per idle actor (host heap + guest, 100k Counters)", value: key{"ActorMemory", "B/actor"}, scale: 1, unit: "B"},
	{figure: "guest memory per shared instance (%A actors over the pool)", value: key{"MillionActors", "guest-MB/instance"}, scale: 1, unit: "MB"},
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "—"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func verdict(op string, v, target float64) string {
	switch {
	case op == "" || math.IsNaN(v):
		return ""
	case op == ">=" && v >= target, op == "<=" && v <= target:
		return "pass"
	}
	return "**miss**"
}

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: benchtable < output-of-scripts-bench.sh")
		flag.PrintDefaults()
	}
	compare := flag.Bool("compare", false, "read scripts/bench-compare.sh output: base/tree lines")
	flag.Parse()
	if *compare {
		if err := compareTable(os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(1)
		}
		return
	}
	s, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	fmt.Println("| figure | wasmactor (median) | baseline, same run (median) | ratio (median of rounds) | target | |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range rows {
		vals := s.values(r.value)
		if len(vals) == 0 {
			continue
		}
		v := median(vals)
		shown := fmt.Sprintf("%s %s (n=%d)", num(v*r.scale), r.unit, len(vals))
		base, ratio := "—", math.NaN()
		if r.base != (key{}) && len(s[r.base]) > 0 {
			base = fmt.Sprintf("%s %s %s", r.baseName, num(median(s.values(r.base))*r.scale), r.unit)
			ratio = median(s.ratios(r.value, r.base))
		}
		ratioS := "—"
		if !math.IsNaN(ratio) {
			ratioS = num(ratio) + "×"
		}
		target, judged := "—", v
		if r.op != "" {
			t := r.target
			if r.ratio {
				target = fmt.Sprintf("%s %s×", strings.Replace(strings.Replace(r.op, ">=", "≥", 1), "<=", "≤", 1), num(t))
				judged = ratio
			} else {
				target = fmt.Sprintf("%s %s %s", strings.Replace(strings.Replace(r.op, ">=", "≥", 1), "<=", "≤", 1), num(t*r.scale), r.unit)
			}
		}
		figure := strings.ReplaceAll(r.figure, "%A", actors(s))
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", figure, shown, base, ratioS, target, verdict(r.op, judged, r.target))
	}
}

// actors is the population BenchmarkMillionActors ran with, 1,000,000
// unless WASMACTOR_BENCH_ACTORS said otherwise.
func actors(s samples) string {
	v := median(s.values(key{"MillionActors", "actors"}))
	if math.IsNaN(v) {
		return "1,000,000"
	}
	d := strconv.FormatFloat(v, 'f', 0, 64)
	for i := len(d) - 3; i > 0; i -= 3 {
		d = d[:i] + "," + d[i:]
	}
	return d
}

// compareTable prints base and tree medians per metric from lines
// "base BenchmarkX-2 N v unit v unit..." and "tree ...", the k-th base
// line of a benchmark paired with its k-th tree line (the same round).
func compareTable(r io.Reader) error {
	type series struct{ base, tree []float64 }
	var order []key
	m := map[key]*series{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || (f[0] != "base" && f[0] != "tree") || !strings.HasPrefix(f[1], "Benchmark") {
			continue
		}
		for i := 3; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			k := key{f[1], f[i+1]}
			if m[k] == nil {
				m[k] = &series{}
				order = append(order, k)
			}
			if f[0] == "base" {
				m[k].base = append(m[k].base, v)
			} else {
				m[k].tree = append(m[k].tree, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Println("| benchmark | metric | base (median) | tree (median) | tree ÷ base | per-round ratio: median (range), rounds |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, k := range order {
		s := m[k]
		var ratios []float64
		for i := range min(len(s.base), len(s.tree)) {
			if s.base[i] != 0 {
				ratios = append(ratios, s.tree[i]/s.base[i])
			}
		}
		b, t := median(s.base), median(s.tree)
		pr := "—"
		if len(ratios) > 0 {
			pr = fmt.Sprintf("%.3f (%.2f–%.2f), %d", median(ratios), slices.Min(ratios), slices.Max(ratios), len(ratios))
		}
		fmt.Printf("| %s | %s | %s | %s | %.3f | %s |\n", k.bench, k.unit, num(b), num(t), t/b, pr)
	}
	return nil
}
