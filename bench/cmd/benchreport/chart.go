package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// writeChart draws throughput and p99 latency against concurrency, for
// cors-authz and the no-op ceiling, side by side, as SVG or PNG (by the
// file's extension).
func writeChart(path string, r *report) error {
	thr, err := chartPanel(r, "Throughput", "k requests/s", func(l loadRun) float64 { return l.Res.RPS / 1e3 })
	if err != nil {
		return err
	}
	lat, err := chartPanel(r, "p99 latency", "ms", func(l loadRun) float64 { return float64(l.Res.P99) / 1e6 })
	if err != nil {
		return err
	}
	const w, h = 10 * vg.Inch, 3.8 * vg.Inch
	var canvas vg.CanvasWriterTo
	switch filepath.Ext(path) {
	case ".svg":
		canvas = vgsvg.New(w, h)
	case ".png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
	default:
		return fmt.Errorf("%s: want a .svg or .png file", path)
	}
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 8, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	cs := plot.Align([][]*plot.Plot{{thr, lat}}, tiles, dc)
	thr.Draw(cs[0][0])
	lat.Draw(cs[0][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := canvas.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func chartPanel(r *report, title, unit string, f func(loadRun) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title + " against concurrency"
	p.X.Label.Text = "concurrent requests (closed-loop workers)"
	p.Y.Label.Text = unit
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, c := range concurrencies {
		ticks = append(ticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = 0.8, float64(concurrencies[len(concurrencies)-1])*1.25
	p.Y.Min = 0
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	top := 0.0
	for _, s := range []struct {
		target, name string
		col          color.Color
		dashed       bool
	}{
		{"cors-authz", "cors-authz serve", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, false},
		{"noop", "no-op ext_authz (ceiling)", color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, true},
	} {
		var pts plotter.XYs
		for _, c := range concurrencies {
			if v, ok := r.loadStat(s.target, c, f); ok {
				pts = append(pts, plotter.XY{X: float64(c), Y: v})
				top = max(top, v)
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		line.Color, points.Color = s.col, s.col
		line.Width = vg.Points(1.5)
		if s.dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			points.Shape = draw.BoxGlyph{}
		} else {
			points.Shape = draw.CircleGlyph{}
		}
		p.Add(line, points)
		p.Legend.Add(s.name, line, points)
	}
	p.Y.Max = top * 1.3 // room for the legend
	return p, nil
}
