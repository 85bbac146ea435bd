// plot.h: line charts of the training curves, drawn two ways from one Chart description: into an
// 8-bit image (for curves.png; text with stb_easy_font) and as inline SVG (for report.html).
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

struct Chart {
  std::string title;
  std::vector<double> x;    // epochs, increasing
  std::vector<Series> series;
  bool log_y = false;       // learning rates
};

// Draws `charts` side by side, each panel width x height pixels.
sepal::data::Image render_charts(const std::vector<Chart>& charts, int panel_width = 360, int panel_height = 260);
// `text` with <, >, & and " escaped for HTML and SVG.
std::string html_escape(const std::string& text);
// One <svg> element of width x height for `chart`.
std::string chart_svg(const Chart& chart, int width = 420, int height = 280);

}  // namespace flowers
