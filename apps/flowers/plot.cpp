// plot.cpp: round axis ticks, the raster renderer (lines, boxes, stb_easy_font text) and the SVG
// one, both laid out from the same Axes.
#include "plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include <stb/stb_easy_font.h>

namespace flowers {

NiceAxis nice_axis(double lo, double hi, int max_ticks) {
  NiceAxis a;
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo < 1e-12) {  // one value: a small range around it
    const double pad = std::max(std::fabs(lo) * 0.1, 1e-3);
    lo -= pad;
    hi += pad;
  }
  max_ticks = std::max(max_ticks, 1);
  const double raw = (hi - lo) / max_ticks;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0, 20.0}) {
    step = m * mag;
    if (std::ceil(hi / step - 1e-9) - std::floor(lo / step + 1e-9) <= max_ticks) break;
  }
  const int64_t k0 = static_cast<int64_t>(std::floor(lo / step + 1e-9));
  const int64_t k1 = static_cast<int64_t>(std::ceil(hi / step - 1e-9));
  a.step = step;
  a.lo = k0 * step;
  a.hi = k1 * step;
  for (int64_t k = k0; k <= k1; ++k) a.ticks.push_back(k * step);
  a.decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  return a;
}

std::vector<int64_t> epoch_ticks(double first, double last, int max_ticks) {
  std::vector<int64_t> out;
  if (!(last >= first)) return out;
  const int64_t lo = static_cast<int64_t>(std::ceil(first - 1e-9)), hi = static_cast<int64_t>(std::floor(last + 1e-9));
  if (hi < lo) return out;
  max_ticks = std::max(max_ticks, 1);
  auto first_k = [&](int64_t step) { return static_cast<int64_t>(std::ceil(static_cast<double>(lo) / step)); };
  auto last_k = [&](int64_t step) { return static_cast<int64_t>(std::floor(static_cast<double>(hi) / step)); };
  int64_t step = 1;
  for (int64_t mag = 1, i = 0; last_k(step) - first_k(step) + 1 > max_ticks; ++i) {
    const int64_t m[] = {1, 2, 5};
    step = m[i % 3] * mag;
    if (i % 3 == 2) mag *= 10;
  }
  for (int64_t k = first_k(step); k <= last_k(step); ++k) out.push_back(k * step);
  return out;
}

std::string tick_label(double value, int decimals, bool percent) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos) s = decimals > 0 ? "0." + std::string(decimals, '0') : "0";
  return percent ? s + "%" : s;
}

namespace {

// Everything both renderers place: the x range and integer ticks, the y range and ticks in
// plotted units (log10 for learning rates, percent for accuracy).
struct Axes {
  double xlo = 0, xhi = 1;
  std::vector<int64_t> xticks;
  double ylo = 0, yhi = 1;
  std::vector<std::pair<double, std::string>> yticks;  // plotted value, label
};

bool usable(const Chart& c, double v) { return std::isfinite(v) && (!c.log_y || v > 0); }

double plotted(const Chart& c, double v) { return c.log_y ? std::log10(v) : c.percent ? v * 100.0 : v; }

Axes axes_of(const Chart& c) {
  Axes a;
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo;
  for (double x : c.x) xlo = std::min(xlo, x), xhi = std::max(xhi, x);
  for (const auto& m : c.markers) xlo = std::min(xlo, m.x), xhi = std::max(xhi, m.x);
  if (!std::isfinite(xlo)) xlo = 1, xhi = 1;
  if (xhi - xlo < 1e-9) xlo -= 0.5, xhi += 0.5;
  a.xlo = xlo, a.xhi = xhi;
  a.xticks = epoch_ticks(xlo, xhi, 10);

  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : c.series)
    for (double v : s.y)
      if (usable(c, v)) lo = std::min(lo, plotted(c, v)), hi = std::max(hi, plotted(c, v));
  if (c.log_y) {  // whole decades
    if (!std::isfinite(lo)) lo = -3, hi = -3;
    double dlo = std::floor(lo + 1e-9), dhi = std::ceil(hi - 1e-9);
    if (dhi - dlo < 1) dlo = std::floor(lo - 0.5), dhi = std::ceil(hi + 0.5);
    a.ylo = dlo, a.yhi = dhi;
    const int every = static_cast<int>(std::ceil((dhi - dlo) / 6));
    for (double d = dlo; d <= dhi + 1e-9; d += every) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "1e%d", static_cast<int>(d));
      a.yticks.emplace_back(d, d == 0 ? "1" : buf);
    }
    return a;
  }
  if (!std::isfinite(lo)) lo = 0, hi = c.percent ? 100 : 1;
  NiceAxis n = nice_axis(lo, hi, 5);
  if (c.percent) {  // never beyond 0-100%
    n.lo = std::max(n.lo, 0.0), n.hi = std::min(n.hi, 100.0);
    std::erase_if(n.ticks, [&](double t) { return t < n.lo - 1e-9 || t > n.hi + 1e-9; });
  }
  a.ylo = n.lo, a.yhi = n.hi;
  for (double t : n.ticks) a.yticks.emplace_back(t, tick_label(t, n.decimals, c.percent));
  return a;
}

// ---- raster ----

int text_width(const std::string& s) { return stb_easy_font_width(const_cast<char*>(s.c_str())); }

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

constexpr uint32_t kMarkerRgb = 0x8c2d9c;

void draw_panel(Canvas& cv, const Chart& c, int ox, int width, int height) {
  const Axes a = axes_of(c);
  int label_w = 0;
  for (const auto& [t, s] : a.yticks) label_w = std::max(label_w, text_width(s));
  const int left = std::max(30, label_w + 10), top = 42, bottom = 30;
  const int right = 10 + (a.xticks.empty() ? 0 : text_width(std::to_string(a.xticks.back())) / 2);
  const int pw = width - left - right, ph = height - top - bottom;
  auto px = [&](double x) { return ox + left + (x - a.xlo) / (a.xhi - a.xlo) * pw; };
  auto py = [&](double t) { return top + (1.0 - (t - a.ylo) / (a.yhi - a.ylo)) * ph; };
  cv.text(ox + left, 6, c.title, 0x202020, 2);
  int legend_x = ox + left;
  for (const auto& s : c.series) {  // the legend: one row under the title, outside the plot
    cv.rect(legend_x, 28, legend_x + 10, 32, s.rgb);
    cv.text(legend_x + 14, 26, s.name, 0x202020);
    legend_x += 14 + text_width(s.name) + 12;
  }
  for (const auto& [t, s] : a.yticks) {  // horizontal grid and right-aligned y labels
    int y = static_cast<int>(std::lround(py(t)));
    for (int x = ox + left; x < ox + left + pw; x += 3) cv.pixel(x, y, 0xd0d0d0);
    cv.text(ox + left - 6 - text_width(s), y - 3, s, 0x404040);
  }
  cv.rect(ox + left, top, ox + left + 1, top + ph + 1, 0x404040);
  cv.rect(ox + left, top + ph, ox + left + pw, top + ph + 1, 0x404040);
  for (int64_t x : a.xticks) {  // integer epochs, centred under their tick
    const std::string s = std::to_string(x);
    const int xp = static_cast<int>(std::lround(px(static_cast<double>(x))));
    cv.rect(xp, top + ph, xp + 1, top + ph + 4, 0x404040);
    cv.text(xp - text_width(s) / 2, top + ph + 7, s, 0x404040);
  }
  cv.text(ox + left + pw / 2 - text_width("epoch") / 2, top + ph + 18, "epoch", 0x606060);
  for (const auto& s : c.series) {
    for (size_t i = 0; i + 1 < s.y.size() && i + 1 < c.x.size(); ++i)
      if (usable(c, s.y[i]) && usable(c, s.y[i + 1]))
        cv.line(px(c.x[i]), py(plotted(c, s.y[i])), px(c.x[i + 1]), py(plotted(c, s.y[i + 1])), s.rgb);
    for (size_t i = 0; i < s.y.size() && i < c.x.size(); ++i)  // a dot on each epoch
      if (usable(c, s.y[i])) {
        const int x = static_cast<int>(std::lround(px(c.x[i]))), y = static_cast<int>(std::lround(py(plotted(c, s.y[i]))));
        cv.rect(x - 2, y - 2, x + 3, y + 3, s.rgb);
      }
  }
  int marker_y = top + 3;
  for (const auto& m : c.markers) {  // a dashed vertical line, labelled inside the plot
    const int x = static_cast<int>(std::lround(px(m.x)));
    for (int y = top; y < top + ph; y += 6) cv.rect(x, y, x + 1, std::min(y + 3, top + ph), kMarkerRgb);
    const int w = text_width(m.label);
    const int tx = x + 4 + w <= ox + left + pw ? x + 4 : x - 4 - w;  // flipped left near the right edge
    cv.rect(tx - 1, marker_y - 1, tx + w + 1, marker_y + 9, 0xffffff);
    cv.text(tx, marker_y, m.label, kMarkerRgb);
    marker_y += 11;
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
  const Axes a = axes_of(c);
  size_t label_chars = 0;
  for (const auto& [t, s] : a.yticks) label_chars = std::max(label_chars, s.size());
  const int left = std::max(40, static_cast<int>(label_chars) * 7 + 12), right = 20, top = 46, bottom = 38;
  const int pw = width - left - right, ph = height - top - bottom;
  auto px = [&](double x) { return left + (x - a.xlo) / (a.xhi - a.xlo) * pw; };
  auto py = [&](double t) { return top + (1.0 - (t - a.ylo) / (a.yhi - a.ylo)) * ph; };
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<text x=\"" << left << "\" y=\"18\" font-size=\"14\">" << html_escape(c.title) << "</text>\n";
  int legend_x = left;
  for (const auto& s : c.series) {
    o << "<rect x=\"" << legend_x << "\" y=\"30\" width=\"12\" height=\"4\" fill=\"" << hex(s.rgb) << "\"/><text x=\""
      << legend_x + 16 << "\" y=\"36\">" << html_escape(s.name) << "</text>\n";
    legend_x += 16 + static_cast<int>(s.name.size()) * 7 + 14;
  }
  for (const auto& [t, s] : a.yticks)
    o << "<line x1=\"" << left << "\" x2=\"" << left + pw << "\" y1=\"" << py(t) << "\" y2=\"" << py(t)
      << "\" stroke=\"#ddd\"/><text x=\"" << left - 6 << "\" y=\"" << py(t) + 4 << "\" text-anchor=\"end\">"
      << html_escape(s) << "</text>\n";
  o << "<polyline fill=\"none\" stroke=\"#444\" points=\"" << left << "," << top << " " << left << ","
    << top + ph << " " << left + pw << "," << top + ph << "\"/>\n";
  for (int64_t x : a.xticks)
    o << "<line x1=\"" << px(static_cast<double>(x)) << "\" x2=\"" << px(static_cast<double>(x)) << "\" y1=\"" << top + ph
      << "\" y2=\"" << top + ph + 4 << "\" stroke=\"#444\"/><text x=\"" << px(static_cast<double>(x)) << "\" y=\""
      << top + ph + 16 << "\" text-anchor=\"middle\">" << x << "</text>\n";
  o << "<text x=\"" << left + pw / 2 << "\" y=\"" << height - 6 << "\" text-anchor=\"middle\" fill=\"#666\">epoch</text>\n";
  for (const auto& s : c.series) {
    o << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << hex(s.rgb) << "\" points=\"";
    for (size_t i = 0; i < s.y.size() && i < c.x.size(); ++i)
      if (usable(c, s.y[i])) o << px(c.x[i]) << "," << py(plotted(c, s.y[i])) << " ";
    o << "\"/>\n";
    for (size_t i = 0; i < s.y.size() && i < c.x.size(); ++i)
      if (usable(c, s.y[i]))
        o << "<circle cx=\"" << px(c.x[i]) << "\" cy=\"" << py(plotted(c, s.y[i])) << "\" r=\"2.5\" fill=\"" << hex(s.rgb)
          << "\"/>";
    o << "\n";
  }
  int marker_y = top + 12;
  for (const auto& m : c.markers) {
    const double x = px(m.x);
    const bool flip = x + 8 + static_cast<double>(m.label.size()) * 6.5 > left + pw;
    o << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << top << "\" y2=\"" << top + ph << "\" stroke=\""
      << hex(kMarkerRgb) << "\" stroke-dasharray=\"4,3\"/><text x=\"" << (flip ? x - 4 : x + 4) << "\" y=\"" << marker_y
      << "\" fill=\"" << hex(kMarkerRgb) << "\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\""
      << (flip ? " text-anchor=\"end\"" : "") << ">" << html_escape(m.label)
      << "</text>\n";
    marker_y += 14;
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace flowers
