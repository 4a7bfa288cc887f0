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

// series are the chart's lines: each server with each fixture.
var series = []struct {
	target, fixture, name string
	col                   color.Color
	dashed                bool
	glyph                 draw.GlyphDrawer
	offset                float64 // x factor, so the bars stay apart
}{
	{"cors-authz", "small", "cors-authz serve, small requests", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, false, draw.CircleGlyph{}, 0.94},
	{"noop", "small", "no-op ext_authz (ceiling), small requests", color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, true, draw.BoxGlyph{}, 0.98},
	{"cors-authz", "realistic", "cors-authz serve, realistic requests", color.RGBA{R: 0xd6, G: 0x5f, B: 0x00, A: 0xff}, false, draw.TriangleGlyph{}, 1.02},
	{"noop", "realistic", "no-op ext_authz (ceiling), realistic requests", color.RGBA{R: 0x3a, G: 0x3a, B: 0x3a, A: 0xff}, true, draw.PyramidGlyph{}, 1.06},
}

// writeChart draws throughput, p99 latency and server CPU per call against
// concurrency, for cors-authz and the no-op ceiling with small and
// realistic requests, in three panels above one legend, as SVG or PNG (by
// the file's extension).
func writeChart(path string, r *report) error {
	panels := []struct {
		title, unit string
		logY        bool
		f           func(loadRun) float64
	}{
		{"Throughput", "thousand requests/s", false, func(l loadRun) float64 { return l.Res.RPS / 1e3 }},
		{"p99 latency", "ms (log scale)", true, func(l loadRun) float64 { return float64(l.Res.P99) / 1e6 }},
		{"Server CPU per call", "µs of CPU per Check", false, func(l loadRun) float64 { return l.ServerCPUPerCall / 1e3 }},
	}
	var plots []*plot.Plot
	var legendLines [][2]plot.Thumbnailer
	for i, pn := range panels {
		p, thumbs, err := chartPanel(r, pn.title, pn.unit, pn.logY, pn.f)
		if err != nil {
			return err
		}
		plots = append(plots, p)
		if i == 0 {
			legendLines = thumbs
		}
	}
	const w, h, legendH = 13 * vg.Inch, 4.6 * vg.Inch, 0.75 * vg.Inch
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
	// Panels above, the legend in its own strip below them: it never
	// covers data.
	top := draw.Crop(dc, 0, 0, legendH, 0)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 10, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 5}
	cs := plot.Align([][]*plot.Plot{plots}, tiles, top)
	for i, p := range plots {
		p.Draw(cs[0][i])
	}
	strip := draw.Crop(dc, 0, 0, 0, legendH-h)
	for half := range 2 {
		l := plot.NewLegend()
		l.Top, l.Left = true, true
		l.YOffs = -vg.Millimeter * 2
		l.XOffs = vg.Millimeter * 12
		for _, i := range []int{2 * half, 2*half + 1} {
			if i < len(legendLines) && legendLines[i][0] != nil {
				l.Add(series[i].name, legendLines[i][0], legendLines[i][1])
			}
		}
		area := draw.Crop(strip, w/2*vg.Length(half), -w/2*vg.Length(1-half), 0, 0)
		l.Draw(area)
	}
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

// chartPanel plots f's median over rounds against concurrency for every
// series, with bars from the lowest to the highest round. It returns each
// series' line and points for the legend (nil for a series without data).
func chartPanel(r *report, title, unit string, logY bool, f func(loadRun) float64) (*plot.Plot, [][2]plot.Thumbnailer, error) {
	p := plot.New()
	p.Title.Text = title + " (median, min–max of rounds)"
	p.X.Label.Text = "concurrent requests (closed loop)"
	p.Y.Label.Text = unit
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, c := range concurrencies {
		ticks = append(ticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = 0.8, float64(concurrencies[len(concurrencies)-1])*1.25
	p.Add(plotter.NewGrid())
	thumbs := make([][2]plot.Thumbnailer, len(series))
	top, bottom := 0.0, math.Inf(1)
	for si, s := range series {
		var pts plotter.XYs
		var bars errPoints
		for _, c := range concurrencies {
			v, ok := r.loadStat(s.fixture, s.target, c, f)
			if !ok {
				continue
			}
			lo, hi := v, v
			for _, l := range r.loads {
				if l.Target == s.target && l.Fixture == s.fixture && l.Concurrency == c {
					lo, hi = min(lo, f(l)), max(hi, f(l))
				}
			}
			x := float64(c) * s.offset
			pts = append(pts, plotter.XY{X: x, Y: v})
			bars = append(bars, errPoint{x: x, y: v, lo: v - lo, hi: hi - v})
			top, bottom = max(top, hi), min(bottom, lo)
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, nil, err
		}
		line.Color, points.Color = s.col, s.col
		line.Width = vg.Points(1.5)
		if s.dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		points.Shape = s.glyph
		eb, err := plotter.NewYErrorBars(bars)
		if err != nil {
			return nil, nil, err
		}
		eb.Color = s.col
		p.Add(line, points, eb)
		thumbs[si] = [2]plot.Thumbnailer{line, points}
	}
	if logY && bottom > 0 && !math.IsInf(bottom, 0) {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = bottom/1.3, top*1.3
	} else {
		p.Y.Min, p.Y.Max = 0, top*1.1
	}
	return p, thumbs, nil
}

// errPoint is a point with its spread, for plotter.YErrorBars.
type errPoint struct{ x, y, lo, hi float64 }

type errPoints []errPoint

func (e errPoints) Len() int                    { return len(e) }
func (e errPoints) XY(i int) (float64, float64) { return e[i].x, e[i].y }
func (e errPoints) YError(i int) (float64, float64) {
	return e[i].lo, e[i].hi
}
