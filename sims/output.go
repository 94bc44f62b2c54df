package sims

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// WriteOutputs writes metrics.csv, summary.json, accuracy.png and
// consensus.png into dir, creating it if needed.
func WriteOutputs(dir string, spec Spec, res *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sims: output directory: %w", err)
	}
	if err := writeMetricsCSV(filepath.Join(dir, "metrics.csv"), res.Records); err != nil {
		return err
	}
	if err := writeSummaryJSON(filepath.Join(dir, "summary.json"), spec, res.Summary); err != nil {
		return err
	}
	title := fmt.Sprintf("%s · %s · %d peers", spec.Algo, spec.Topology, res.Peers)
	if spec.Algo != "dpsgd" {
		title = fmt.Sprintf("%s · %d peers", spec.Algo, res.Peers)
	}
	if err := plotAccuracy(filepath.Join(dir, "accuracy.png"), title, res.Records); err != nil {
		return err
	}
	return plotConsensus(filepath.Join(dir, "consensus.png"), title, res.Records)
}

// MetricsHeader names the columns of metrics.csv.
var MetricsHeader = []string{"round", "virtual_seconds", "samples_seen", "test_accuracy_mean", "test_accuracy_min",
	"test_accuracy_max", "test_loss_mean", "train_loss_mean", "consensus_distance", "bytes_sent_per_peer"}

func writeMetricsCSV(path string, recs []Record) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("sims: %w", err)
	}
	w := csv.NewWriter(f)
	_ = w.Write(MetricsHeader)
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 8, 64)
	}
	for _, r := range recs {
		_ = w.Write([]string{strconv.Itoa(r.Round), num(r.VirtualSeconds), strconv.FormatInt(r.SamplesSeen, 10),
			num(r.AccuracyMean), num(r.AccuracyMin), num(r.AccuracyMax), num(r.TestLoss), num(r.TrainLoss),
			num(r.Consensus), num(r.BytesSentPerPeer)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("sims: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sims: writing %s: %w", path, err)
	}
	return nil
}

func writeSummaryJSON(path string, spec Spec, sum Summary) error {
	doc := struct {
		Summary
		Config Spec `json:"config"`
	}{sum, spec}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("sims: summary: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("sims: %w", err)
	}
	return nil
}
