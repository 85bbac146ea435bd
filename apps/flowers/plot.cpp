// plot.cpp: axis ranges, the raster renderer (lines, boxes, stb_easy_font text) and the SVG one.
#include "plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include <stb/stb_easy_font.h>

namespace flowers {

namespace {

struct Range {
  double lo, hi;
};

double transform(const Chart& c, double v) { return c.log_y ? std::log10(v) : v; }

bool usable(const Chart& c, double v) { return std::isfinite(v) && (!c.log_y || v > 0); }

Range y_range(const Chart& c) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : c.series)
    for (double v : s.y)
      if (usable(c, v)) {
        lo = std::min(lo, transform(c, v));
        hi = std::max(hi, transform(c, v));
      }
  if (!std::isfinite(lo)) return {0, 1};
  if (hi - lo < 1e-12) {
    lo -= c.log_y ? 0.5 : std::max(1e-3, std::fabs(lo) * 0.1);
    hi += c.log_y ? 0.5 : std::max(1e-3, std::fabs(hi) * 0.1);
  }
  double pad = (hi - lo) * 0.05;
  return {lo - pad, hi + pad};
}

Range x_range(const Chart& c) {
  if (c.x.empty()) return {0, 1};
  double lo = c.x.front(), hi = c.x.back();
  if (hi - lo < 1e-12) return {lo - 0.5, hi + 0.5};
  return {lo, hi};
}

std::string label(const Chart& c, double t) {
  char buf[32];
  double v = c.log_y ? std::pow(10.0, t) : t;
  std::snprintf(buf, sizeof buf, c.log_y ? "%.0e" : "%.3g", v);
  return buf;
}

// ---- raster ----

struct Canvas {
  sepal::data::Image& img;
  void pixel(int x, int y, uint32_t rgb) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    img.at(y, x, 0) = static_cast<uint8_t>(rgb >> 16);
    img.at(y, x, 1) = static_cast<uint8_t>(rgb >> 8);
    img.at(y, x, 2) = static_cast<uint8_t>(rgb);
  }
  void rect(int x0, int y0, int x1, int y1, uint32_t rgb) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) pixel(x, y, rgb);
  }
  // A 2-pixel-wide line (Bresenham, thickened).
  void line(double x0, double y0, double x1, double y1, uint32_t rgb) {
    int steps = static_cast<int>(std::max(std::fabs(x1 - x0), std::fabs(y1 - y0))) + 1;
    for (int i = 0; i <= steps; ++i) {
      double t = static_cast<double>(i) / steps;
      int x = static_cast<int>(std::lround(x0 + (x1 - x0) * t)), y = static_cast<int>(std::lround(y0 + (y1 - y0) * t));
      pixel(x, y, rgb);
      pixel(x + 1, y, rgb);
      pixel(x, y + 1, rgb);
    }
  }
  // stb_easy_font emits axis-aligned quads (4 vertices of x, y, z floats and 4 colour bytes).
  void text(int x, int y, const std::string& s, uint32_t rgb, int scale = 1) {
    static char buffer[60000];
    int quads = stb_easy_font_print(0, 0, const_cast<char*>(s.c_str()), nullptr, buffer, sizeof buffer);
    for (int q = 0; q < quads; ++q) {
      const float* v = reinterpret_cast<const float*>(buffer + q * 64);
      float qx0 = v[0], qy0 = v[1], qx1 = v[8], qy1 = v[9];
      rect(x + static_cast<int>(qx0 * scale), y + static_cast<int>(qy0 * scale), x + static_cast<int>(qx1 * scale),
           y + static_cast<int>(qy1 * scale), rgb);
    }
  }
};

void draw_panel(Canvas& cv, const Chart& c, int ox, int width, int height) {
  const int left = 52, right = 12, top = 28, bottom = 30;
  const int pw = width - left - right, ph = height - top - bottom;
  Range xr = x_range(c), yr = y_range(c);
  auto px = [&](double x) { return ox + left + (x - xr.lo) / (xr.hi - xr.lo) * pw; };
  auto py = [&](double t) { return top + (1.0 - (t - yr.lo) / (yr.hi - yr.lo)) * ph; };
  cv.text(ox + left, 8, c.title, 0x202020, 2);
  for (int i = 0; i <= 4; ++i) {  // horizontal grid and y labels
    double t = yr.lo + (yr.hi - yr.lo) * i / 4;
    int y = static_cast<int>(py(t));
    for (int x = ox + left; x < ox + left + pw; x += 3) cv.pixel(x, y, 0xd0d0d0);
    cv.text(ox + 2, y - 3, label(c, t), 0x404040);
  }
  cv.rect(ox + left, top, ox + left + 1, top + ph, 0x404040);
  cv.rect(ox + left, top + ph, ox + left + pw, top + ph + 1, 0x404040);
  for (double x : c.x) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%g", x);
    if (c.x.size() <= 12 || static_cast<int>(x) % ((c.x.size() + 9) / 10) == 0)
      cv.text(static_cast<int>(px(x)) - 3, top + ph + 6, buf, 0x404040);
  }
  int legend_y = top + 4;
  for (const auto& s : c.series) {
    for (size_t i = 0; i + 1 < s.y.size() && i + 1 < c.x.size(); ++i)
      if (usable(c, s.y[i]) && usable(c, s.y[i + 1]))
        cv.line(px(c.x[i]), py(transform(c, s.y[i])), px(c.x[i + 1]), py(transform(c, s.y[i + 1])), s.rgb);
    if (s.y.size() == 1 && usable(c, s.y[0]))
      cv.rect(static_cast<int>(px(c.x[0])) - 2, static_cast<int>(py(transform(c, s.y[0]))) - 2,
              static_cast<int>(px(c.x[0])) + 3, static_cast<int>(py(transform(c, s.y[0]))) + 3, s.rgb);
    cv.rect(ox + left + pw - 90, legend_y + 2, ox + left + pw - 80, legend_y + 6, s.rgb);
    cv.text(ox + left + pw - 76, legend_y, s.name, 0x202020);
    legend_y += 12;
  }
}

std::string hex(uint32_t rgb) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%06x", rgb & 0xffffff);
  return buf;
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '&') out += "&amp;";
    else if (ch == '"') out += "&quot;";
    else out += ch;
  }
  return out;
}

sepal::data::Image render_charts(const std::vector<Chart>& charts, int panel_width, int panel_height) {
  sepal::data::Image img(panel_height, panel_width * static_cast<int>(std::max<size_t>(charts.size(), 1)), 3, 255);
  Canvas cv{img};
  for (size_t i = 0; i < charts.size(); ++i) draw_panel(cv, charts[i], static_cast<int>(i) * panel_width, panel_width, panel_height);
  return img;
}

std::string chart_svg(const Chart& c, int width, int height) {
  const int left = 60, right = 16, top = 30, bottom = 34;
  const int pw = width - left - right, ph = height - top - bottom;
  Range xr = x_range(c), yr = y_range(c);
  auto px = [&](double x) { return left + (x - xr.lo) / (xr.hi - xr.lo) * pw; };
  auto py = [&](double t) { return top + (1.0 - (t - yr.lo) / (yr.hi - yr.lo)) * ph; };
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<text x=\"" << left << "\" y=\"18\" font-size=\"14\">" << html_escape(c.title) << "</text>\n";
  for (int i = 0; i <= 4; ++i) {
    double t = yr.lo + (yr.hi - yr.lo) * i / 4;
    o << "<line x1=\"" << left << "\" x2=\"" << left + pw << "\" y1=\"" << py(t) << "\" y2=\"" << py(t)
      << "\" stroke=\"#ddd\"/><text x=\"4\" y=\"" << py(t) + 4 << "\">" << html_escape(label(c, t)) << "</text>\n";
  }
  o << "<polyline fill=\"none\" stroke=\"#444\" points=\"" << left << "," << top << " " << left << ","
    << top + ph << " " << left + pw << "," << top + ph << "\"/>\n";
  for (double x : c.x)
    o << "<text x=\"" << px(x) - 3 << "\" y=\"" << top + ph + 16 << "\">" << x << "</text>\n";
  o << "<text x=\"" << left + pw / 2 << "\" y=\"" << height - 2 << "\">epoch</text>\n";
  int legend_y = top + 10;
  for (const auto& s : c.series) {
    o << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << hex(s.rgb) << "\" points=\"";
    for (size_t i = 0; i < s.y.size() && i < c.x.size(); ++i)
      if (usable(c, s.y[i])) o << px(c.x[i]) << "," << py(transform(c, s.y[i])) << " ";
    o << "\"/>\n";
    o << "<rect x=\"" << left + pw - 110 << "\" y=\"" << legend_y - 8 << "\" width=\"10\" height=\"4\" fill=\""
      << hex(s.rgb) << "\"/><text x=\"" << left + pw - 96 << "\" y=\"" << legend_y - 3 << "\">" << html_escape(s.name)
      << "</text>\n";
    legend_y += 14;
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace flowers
