// Package nb renders training progress, learning curves, tables, sample scatter plots and rollout
// GIFs in GoNB notebooks, so that notebook cells stay a few lines long.
//
// Everything is drawn as self-contained SVG, HTML or base64-embedded images: no JavaScript and
// nothing fetched from the network, so executed notebooks render offline and keep their figures
// when saved. The builders (Plot.SVG, Table, Live.HTML, EncodeGIF …) work anywhere and return
// strings or bytes; the Show/Display functions send them to the notebook and are no-ops when the
// program was not started by a GoNB kernel, so code that uses them also runs in tests and `main`s.
package nb

import (
	"fmt"
	"html"
	"strings"

	"github.com/janpfeifer/gonb/gonbui"
)

// Every Display and Update call waits until GoNB has taken the output (gonbui.Sync): output still in
// the pipe when a cell's program exits is lost, and the last figure of a cell is often the one
// that matters.

// IsNotebook reports whether the program runs inside a GoNB cell; Display functions do nothing
// otherwise.
func IsNotebook() bool { return gonbui.IsNotebook }

// DisplayHTML shows an HTML fragment as a cell output.
func DisplayHTML(h string) {
	if !gonbui.IsNotebook {
		return
	}
	gonbui.DisplayHTML(h)
	gonbui.Sync()
}

// DisplaySVG shows an SVG document. It is sent as HTML because Jupyter's HTML export drops raw
// image/svg+xml outputs of some kernels; the figure is the same.
func DisplaySVG(svg string) { DisplayHTML("<div>" + svg + "</div>") }

// DisplayMarkdown shows Markdown as a cell output.
func DisplayMarkdown(md string) {
	if !gonbui.IsNotebook {
		return
	}
	gonbui.DisplayMarkdown(md)
	gonbui.Sync()
}

// Update replaces the contents of the output block id (created on first use) with h: the way a
// figure changes in place while a cell runs. Ids come from NewID.
func Update(id, h string) {
	if !gonbui.IsNotebook {
		return
	}
	gonbui.UpdateHTML(id, h)
	gonbui.Sync()
}

// NewID returns a fresh id for Update.
func NewID() string {
	if !gonbui.IsNotebook {
		return "nb-local"
	}
	return "nb-" + gonbui.UniqueID()
}

// Row lays HTML or SVG fragments out side by side, wrapping when the notebook is narrow.
func Row(items ...string) string {
	var b strings.Builder
	b.WriteString(`<div style="display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start">`)
	for _, it := range items {
		b.WriteString("<div>")
		b.WriteString(it)
		b.WriteString("</div>")
	}
	b.WriteString("</div>")
	return b.String()
}

// ShowRow displays Row(items...).
func ShowRow(items ...string) { DisplayHTML(Row(items...)) }

// Table renders rows under header as an HTML table. Cells are formatted with FormatValue and
// escaped.
func Table(header []string, rows [][]any) string {
	var b strings.Builder
	b.WriteString(`<table style="border-collapse:collapse;font-family:sans-serif;font-size:13px">`)
	if len(header) > 0 {
		b.WriteString("<thead><tr>")
		for _, h := range header {
			fmt.Fprintf(&b, `<th style="border-bottom:1px solid #888;padding:2px 8px;text-align:left">%s</th>`, html.EscapeString(h))
		}
		b.WriteString("</tr></thead>")
	}
	b.WriteString("<tbody>")
	for _, r := range rows {
		b.WriteString("<tr>")
		for _, c := range r {
			fmt.Fprintf(&b, `<td style="padding:2px 8px;text-align:right">%s</td>`, html.EscapeString(FormatValue(c)))
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>")
	return b.String()
}

// ShowTable displays Table(header, rows).
func ShowTable(header []string, rows [][]any) { DisplayHTML(Table(header, rows)) }

// FormatValue prints floats with 4 significant digits and everything else with %v.
func FormatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return fmt.Sprintf("%.4g", x)
	case float32:
		return fmt.Sprintf("%.4g", x)
	default:
		return fmt.Sprint(v)
	}
}
