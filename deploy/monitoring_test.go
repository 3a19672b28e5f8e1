package deploy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/server/servertest"
)

// TestMonitoringNamesExist checks that every metric the shipped alert
// rules and Grafana dashboard query is one a running broker's /metrics
// exposes: a renamed metric would otherwise leave an alert that never
// fires and a panel that stays empty.
func TestMonitoringNamesExist(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	// A queue, so that the per-queue series exist.
	if _, err := s.Core.CreateQueue(core.QueueInfo{Name: "monitoring.check", Address: "monitoring.check", RoutingType: core.Anycast, Durable: true}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + s.Addr("admin") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s\n%s", resp.Status, body)
	}
	exposed := map[string]bool{"up": true} // Prometheus' own
	for _, line := range strings.Split(string(body), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			exposed[strings.Fields(name)[0]] = true
		}
	}
	metric := regexp.MustCompile(`\b(junction|process|go)_[a-z_]+\b`)
	check := func(where, expr string) {
		for _, name := range metric.FindAllString(expr, -1) {
			if !exposed[name] {
				t.Errorf("%s uses %s, which /metrics does not expose", where, name)
			}
		}
	}

	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile("monitoring/prometheus-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("rule %+v lacks a name or an expression", r)
			}
			check("alert "+r.Alert, r.Expr)
		}
	}
	if n < 5 {
		t.Errorf("%d alert rules", n)
	}

	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, err = os.ReadFile("monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if len(dash.Panels) < 8 {
		t.Errorf("%d dashboard panels", len(dash.Panels))
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
		}
	}
}
