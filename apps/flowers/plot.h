// plot.h: line charts of the training curves, drawn two ways from one Chart description: into an
// 8-bit image (for curves.png; text with stb_easy_font) and as inline SVG (for report.html).
// Axes use round steps: integer epochs (1-2-5 steps), 1-2-5 ticks on linear axes (accuracy in
// percent), decades on the logarithmic learning-rate axis; the range is widened to whole ticks and
// no label is clipped. Markers are labelled vertical lines (where a run was resumed).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace flowers {

struct Series {
  std::string name;
  uint32_t rgb;             // 0xRRGGBB
  std::vector<double> y;    // one value per x; NaN leaves a gap
};

struct Marker {
  double x;                 // drawn between epochs: E + 0.5 for "resumed after epoch E"
  std::string label;        // "resumed: merge"
};

struct Chart {
  std::string title;
  std::vector<double> x;    // epochs, increasing
  std::vector<Series> series;
  bool log_y = false;       // learning rates
  bool percent = false;     // y values are fractions, shown as percentages (accuracy)
  std::vector<Marker> markers;
};

// A linear axis with round ticks: lo and hi are whole multiples of step, which is 1, 2 or 5 times
// a power of ten, chosen so that there are at most max_ticks + 1 ticks; `decimals` is how many
// decimals the tick labels need.
struct NiceAxis {
  double lo = 0, hi = 1, step = 1;
  int decimals = 0;
  std::vector<double> ticks;
};
NiceAxis nice_axis(double lo, double hi, int max_ticks = 5);
// Integer epoch ticks within [first, last]: the multiples of the smallest 1-2-5 step (1, 2, 5,
// 10, 20, ...) that gives at most max_ticks of them.
std::vector<int64_t> epoch_ticks(double first, double last, int max_ticks = 10);
// A tick label: `decimals` decimals, "%" appended when percent.
std::string tick_label(double value, int decimals, bool percent = false);

// Draws `charts` side by side, each panel width x height pixels.
sepal::data::Image render_charts(const std::vector<Chart>& charts, int panel_width = 360, int panel_height = 260);
// `text` with <, >, & and " escaped for HTML and SVG.
std::string html_escape(const std::string& text);
// One <svg> element of width x height for `chart`.
std::string chart_svg(const Chart& chart, int width = 420, int height = 280);

}  // namespace flowers
