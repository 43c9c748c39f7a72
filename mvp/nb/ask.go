package nb

import (
	"time"

	"github.com/janpfeifer/gonb/gonbui/widgets"
)

// AskInt lets the person at the notebook pick an integer in [lo, hi] with a slider and a button,
// and returns def when nobody can: outside a notebook, in a headless run (nbconvert, CI), or when
// the button is not pressed within wait. GoNB's widgets only come alive once the browser's
// JavaScript answers, which never happens headless, so AskInt gives the front end probe to answer
// before it falls back to def. A cell that uses it therefore runs unattended with its defaults and
// interactively with a control.
func AskInt(label string, lo, hi, def int, probe, wait time.Duration) int {
	if !IsNotebook() {
		return def
	}
	DisplayHTML(`<div style="font-family:sans-serif">` + esc(label) + `</div>`)
	sliderC := make(chan *widgets.SliderBuilder, 1)
	go func() { sliderC <- widgets.Slider(lo, hi, def).Done() }() // blocks until the browser answers
	var slider *widgets.SliderBuilder
	select {
	case slider = <-sliderC:
	case <-time.After(probe):
		DisplayHTML(`<div style="font-family:sans-serif;color:#666">(no interactive front end: using ` + esc(FormatValue(def)) + `)</div>`)
		return def
	}
	buttonC := make(chan *widgets.ButtonBuilder, 1)
	go func() { buttonC <- widgets.Button("use this value").Done() }()
	var button *widgets.ButtonBuilder
	select {
	case button = <-buttonC:
	case <-time.After(probe):
		return slider.Value()
	}
	select {
	case <-button.Listen().C:
	case <-time.After(wait):
	}
	return slider.Value()
}
