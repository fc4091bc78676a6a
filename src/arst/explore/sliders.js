// The per-layer alpha sliders of the live page and the page that runs the model in the browser
// (arst.explore.page inlines this file into each): one slider per style layer over [0, 1].
// `changed` runs after a slider moves or setAll sets them; `settled`, if given, when a slider is
// let go (its change event), so that a page may show a quick preview while it moves.
const $ = id => document.getElementById(id);

function showValue(layer) { $("value-" + layer).textContent = Number($("alpha-" + layer).value).toFixed(2); }

function addSliders(layers, values, changed, settled) {
  $("sliders").innerHTML = "";
  layers.forEach((layer, i) => {
    const div = document.createElement("div");
    div.className = "slider";
    div.innerHTML = `<div class="name"><label for="alpha-${layer}">${layer}</label><output id="value-${layer}"></output></div>`
      + `<input type="range" id="alpha-${layer}" min="0" max="1" step="0.01" value="${values[i]}">`;
    $("sliders").append(div);
    $("alpha-" + layer).addEventListener("input", () => { showValue(layer); changed(); });
    if (settled) $("alpha-" + layer).addEventListener("change", () => { showValue(layer); settled(); });
    showValue(layer);
  });
}

function setSliders(layers, values, changed) {
  layers.forEach((l, i) => { $("alpha-" + l).value = values[i]; showValue(l); });
  changed();
}
