package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestGrafanaDashboardUsesRealMetrics checks that every metric the
// dashboard queries is one the service exports (by its name in the code).
func TestGrafanaDashboardUsesRealMetrics(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/replicator-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var code strings.Builder
	for _, dir := range []string{"../../pkg/kafka", "../../api", "../../pkg/maintenance", "../../workers"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
				src, _ := os.ReadFile(dir + "/" + e.Name())
				code.Write(src)
			}
		}
	}
	metric := regexp.MustCompile(`replicator_[a-z_]+`)
	seen := 0
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				name := strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count")
				if !strings.Contains(code.String(), `"`+name+`"`) {
					t.Errorf("panel %q queries %s, which the service does not export", p.Title, name)
				}
				seen++
			}
		}
	}
	if seen < 15 {
		t.Fatalf("only %d metric references", seen)
	}
}
