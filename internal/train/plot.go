package train

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// WriteLossCurve draws the training loss (line) and evaluation loss
// (dots) against the step as a PNG at path.
func WriteLossCurve(path string, history []LogEntry) error {
	b, err := LossCurvePNG(history)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// LossCurvePNG renders the loss curve of a log history to PNG bytes.
func LossCurvePNG(history []LogEntry) ([]byte, error) {
	type pt struct{ x, y float64 }
	var train, eval []pt
	for _, e := range history {
		if e.Loss != nil {
			train = append(train, pt{float64(e.Step), *e.Loss})
		}
		if e.EvalLoss != nil {
			eval = append(eval, pt{float64(e.Step), *e.EvalLoss})
		}
	}
	const W, H, left, right, top, bottom = 800, 480, 70, 20, 40, 50
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	ink := color.RGBA{40, 40, 40, 255}
	blue := color.RGBA{31, 119, 180, 255}
	orange := color.RGBA{255, 127, 14, 255}
	grid := color.RGBA{225, 225, 225, 255}

	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range append(append([]pt{}, train...), eval...) {
		minX, maxX = math.Min(minX, p.x), math.Max(maxX, p.x)
		minY, maxY = math.Min(minY, p.y), math.Max(maxY, p.y)
	}
	if math.IsInf(minX, 1) {
		minX, maxX, minY, maxY = 0, 1, 0, 1
	}
	if maxX == minX {
		minX, maxX = minX-1, maxX+1
	}
	if maxY == minY {
		minY, maxY = minY-0.5, maxY+0.5
	}
	pad := (maxY - minY) * 0.05
	minY, maxY = minY-pad, maxY+pad
	px := func(x float64) int { return left + int((x-minX)/(maxX-minX)*float64(W-left-right)) }
	py := func(y float64) int { return H - bottom - int((y-minY)/(maxY-minY)*float64(H-top-bottom)) }

	text := func(x, y int, s string, c color.Color) {
		d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	for i := 0; i <= 5; i++ { // horizontal grid and y labels
		y := minY + (maxY-minY)*float64(i)/5
		line(img, left, py(y), W-right, py(y), grid)
		text(4, py(y)+4, fmt.Sprintf("%.3f", y), ink)
	}
	for i := 0; i <= 5; i++ { // x labels
		x := minX + (maxX-minX)*float64(i)/5
		text(px(x)-10, H-bottom+18, fmt.Sprintf("%.0f", x), ink)
	}
	line(img, left, H-bottom, W-right, H-bottom, ink)
	line(img, left, top, left, H-bottom, ink)
	text(W/2-15, H-12, "step", ink)
	text(left, 20, "training loss", blue)
	text(left+120, 20, "eval loss", orange)
	for i := 1; i < len(train); i++ {
		line(img, px(train[i-1].x), py(train[i-1].y), px(train[i].x), py(train[i].y), blue)
	}
	for _, p := range train {
		dot(img, px(p.x), py(p.y), 2, blue)
	}
	for _, p := range eval {
		dot(img, px(p.x), py(p.y), 4, orange)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// line draws a 2-pixel-wide segment (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func dot(img *image.RGBA, x, y, r int, c color.Color) {
	for i := -r; i <= r; i++ {
		for j := -r; j <= r; j++ {
			if i*i+j*j <= r*r {
				img.Set(x+i, y+j, c)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}
