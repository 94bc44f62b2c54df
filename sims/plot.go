package sims

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plotAccuracy draws the mean test accuracy over peers with the min–max band.
func plotAccuracy(path, title string, recs []Record) error {
	p := plot.New()
	p.Title.Text = "Test accuracy · " + title
	p.X.Label.Text = "round"
	p.Y.Label.Text = "accuracy"
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	series := []struct {
		name  string
		value func(Record) float64
		col   color.RGBA
		dash  bool
	}{
		{"max over peers", func(r Record) float64 { return r.AccuracyMax }, color.RGBA{150, 180, 220, 255}, true},
		{"mean over peers", func(r Record) float64 { return r.AccuracyMean }, color.RGBA{30, 90, 170, 255}, false},
		{"min over peers", func(r Record) float64 { return r.AccuracyMin }, color.RGBA{150, 180, 220, 255}, true},
	}
	for _, s := range series {
		pts := make(plotter.XYs, len(recs))
		for i, r := range recs {
			pts[i] = plotter.XY{X: float64(r.Round), Y: s.value(r)}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("sims: plot: %w", err)
		}
		line.Color = s.col
		line.Width = vg.Points(2)
		if s.dash {
			line.Width = vg.Points(1)
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(line)
		p.Legend.Add(s.name, line)
	}
	p.Legend.Top = false
	p.Legend.Left = false
	return save(p, path)
}

// plotConsensus draws the consensus distance on a log scale; zeros (one
// model, or identical models at round 0) are left out since log 0 is undefined.
func plotConsensus(path, title string, recs []Record) error {
	p := plot.New()
	p.Title.Text = "Consensus distance · " + title
	p.X.Label.Text = "round"
	p.Y.Label.Text = "mean ‖x_i − x̄‖²"
	p.Add(plotter.NewGrid())
	var pts plotter.XYs
	for _, r := range recs {
		if r.Consensus > 0 && !math.IsInf(r.Consensus, 0) {
			pts = append(pts, plotter.XY{X: float64(r.Round), Y: r.Consensus})
		}
	}
	if len(pts) > 0 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("sims: plot: %w", err)
		}
		line.Color = color.RGBA{190, 70, 40, 255}
		line.Width = vg.Points(2)
		p.Add(line)
	} else {
		p.Title.Text += " (all models identical)"
	}
	return save(p, path)
}

func save(p *plot.Plot, path string) error {
	if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
		return fmt.Errorf("sims: plot %s: %w", path, err)
	}
	return nil
}
