package common

import (
	"strings"

	"github.com/boombuler/barcode/qr"

	"github.com/sitegate/sitegate/themes"
)

// qrQuiet is the quiet zone in modules around the code.
const qrQuiet = 1

// RenderQR draws content as a QR code with half-block characters: each
// text row holds two module rows. It returns "" if content does not fit a
// QR code.
func RenderQR(content string) string {
	code, err := qr.Encode(content, qr.L, qr.Auto)
	if err != nil {
		return ""
	}
	n := code.Bounds().Dx()
	dark := func(x, y int) bool {
		x, y = x-qrQuiet, y-qrQuiet
		if x < 0 || y < 0 || x >= n || y >= n {
			return false
		}
		r, _, _, _ := code.At(x, y).RGBA()
		return r == 0
	}
	size := n + 2*qrQuiet
	style := themes.QR()
	var b strings.Builder
	for y := 0; y < size; y += 2 {
		var row strings.Builder
		for x := 0; x < size; x++ {
			top, bottom := dark(x, y), y+1 < size && dark(x, y+1)
			// Foreground is black: draw the dark halves.
			switch {
			case top && bottom:
				row.WriteString("█")
			case top:
				row.WriteString("▀")
			case bottom:
				row.WriteString("▄")
			default:
				row.WriteString(" ")
			}
		}
		b.WriteString(style.Render(row.String()))
		if y+2 < size {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
