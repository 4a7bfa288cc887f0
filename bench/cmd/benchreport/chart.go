package main

import (
	"fmt"
	"image/color"
	"math"
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
	thr, err := chartPanel(r, "Throughput", "k requests/s", false, func(l loadRun) float64 { return l.Res.RPS / 1e3 })
	if err != nil {
		return err
	}
	lat, err := chartPanel(r, "p99 latency", "ms (log scale)", true, func(l loadRun) float64 { return float64(l.Res.P99) / 1e6 })
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

// chartPanel plots f's median over rounds against concurrency for both
// servers, with bars from the lowest to the highest round.
func chartPanel(r *report, title, unit string, logY bool, f func(loadRun) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title + " against concurrency (median, min–max of rounds)"
	p.X.Label.Text = "concurrent requests (closed-loop workers)"
	p.Y.Label.Text = unit
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, c := range concurrencies {
		ticks = append(ticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = 0.8, float64(concurrencies[len(concurrencies)-1])*1.25
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	top, bottom := 0.0, math.Inf(1)
	for _, s := range []struct {
		target, name string
		col          color.Color
		dashed       bool
	}{
		{"cors-authz", "cors-authz serve", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, false},
		{"noop", "no-op ext_authz (ceiling)", color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, true},
	} {
		var pts plotter.XYs
		var bars errPoints
		for _, c := range concurrencies {
			v, ok := r.loadStat(s.target, c, f)
			if !ok {
				continue
			}
			lo, hi := v, v
			for _, l := range r.loads {
				if l.Target == s.target && l.Concurrency == c {
					lo, hi = min(lo, f(l)), max(hi, f(l))
				}
			}
			// Offset the two servers' bars slightly so both stay visible.
			x := float64(c) * map[bool]float64{true: 0.96, false: 1.04}[s.dashed]
			pts = append(pts, plotter.XY{X: x, Y: v})
			bars = append(bars, errPoint{x: x, y: v, lo: v - lo, hi: hi - v})
			top, bottom = max(top, hi), min(bottom, lo)
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
		eb, err := plotter.NewYErrorBars(bars)
		if err != nil {
			return nil, err
		}
		eb.Color = s.col
		p.Add(line, points, eb)
		p.Legend.Add(s.name, line, points)
	}
	if logY && bottom > 0 && !math.IsInf(bottom, 0) {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = bottom/1.5, top*4 // room for the legend
	} else {
		p.Y.Min, p.Y.Max = 0, top*1.3
	}
	return p, nil
}

// errPoint is a point with its spread, for plotter.YErrorBars.
type errPoint struct{ x, y, lo, hi float64 }

type errPoints []errPoint

func (e errPoints) Len() int                    { return len(e) }
func (e errPoints) XY(i int) (float64, float64) { return e[i].x, e[i].y }
func (e errPoints) YError(i int) (float64, float64) {
	return e[i].lo, e[i].hi
}
