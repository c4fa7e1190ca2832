/// The report page as a Mustache template (swift-mustache). Sections:
/// `headline` figures, the `timeline` SVG (one `rect.bar` per person), the
/// `histogram` SVG (bars by age bracket and gender) and the `gallery` (one
/// `img.face` per person). No external resource: styles and graphics inline,
/// images as data URIs.
enum ReportTemplate {
  static let text = #"""
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Audience: {{title}}</title>
    <style>
      :root { --female: #c2255c; --male: #1864ab; --ink: #212529; --muted: #6c757d; --rule: #dee2e6; }
      body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--ink); margin: 24px auto;
             max-width: 920px; padding: 0 16px; background: #fff; }
      h1 { font-size: 22px; margin: 0 0 4px; }
      h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
      p.source { color: var(--muted); margin: 0 0 16px; word-break: break-all; }
      .headline { display: flex; flex-wrap: wrap; gap: 12px; }
      .figure { border: 1px solid var(--rule); border-radius: 8px; padding: 10px 16px; min-width: 96px; }
      .figure .value { font-size: 26px; font-weight: bold; }
      .figure .label { color: var(--muted); font-size: 13px; }
      svg text { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; font-size: 12px; fill: var(--ink); }
      .bar.female, .legend.female { fill: var(--female); }
      .bar.male, .legend.male { fill: var(--male); }
      svg text.label.inside { fill: #fff; font-weight: bold; }
      .axis { stroke: var(--muted); stroke-width: 1; }
      .grid { stroke: var(--rule); stroke-width: 1; }
      .tick { fill: var(--muted); }
      .gallery { display: flex; flex-wrap: wrap; gap: 14px; }
      .person { margin: 0; width: 120px; text-align: center; }
      .person img { width: 112px; height: 112px; object-fit: cover; border-radius: 8px; border: 4px solid var(--rule);
                    background: #f1f3f5; image-rendering: auto; }
      .person.female img { border-color: var(--female); }
      .person.male img { border-color: var(--male); }
      .person figcaption { font-size: 13px; font-weight: bold; margin-top: 4px; }
      .person .detail { font-size: 11px; color: var(--muted); font-weight: normal; }
      .nobody { color: var(--muted); font-style: italic; }
    </style>
    </head>
    <body>
    <h1>Audience report</h1>
    <p class="source">{{title}}</p>

    <section id="headline" class="headline">
    {{#headline}}
      <div class="figure"><div class="value">{{value}}</div><div class="label">{{label}}</div></div>
    {{/headline}}
    </section>

    <h2>Timeline</h2>
    {{#nobody}}<p class="nobody">No person was counted in this video.</p>{{/nobody}}
    {{#timeline}}
    <svg id="timeline" role="img" aria-label="One bar per person along the video's time" width="{{width}}" height="{{height}}"
         viewBox="0 0 {{width}} {{height}}" xmlns="http://www.w3.org/2000/svg">
      <line class="axis" x1="{{plotLeft}}" y1="{{axisY}}" x2="{{plotRight}}" y2="{{axisY}}"/>
      {{#ticks}}
      <line class="grid" x1="{{x}}" y1="4" x2="{{x}}" y2="{{axisY}}"/>
      <text class="tick" x="{{x}}" y="{{axisY}}" dy="16" text-anchor="middle">{{label}}</text>
      {{/ticks}}
      {{#bars}}
      <g class="person-row" data-track="{{trackID}}">
        <rect class="bar {{gender}}" data-track="{{trackID}}" x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}" rx="3">
          <title>{{tooltip}}</title>
        </rect>
        <text class="label {{labelPlace}}" x="{{labelX}}" y="{{labelY}}" text-anchor="{{labelAnchor}}">{{label}}</text>
      </g>
      {{/bars}}
    </svg>
    {{/timeline}}

    <h2>Age and gender</h2>
    {{#histogram}}
    <svg id="histogram" role="img" aria-label="People by age bracket and gender" width="{{width}}" height="{{height}}"
         viewBox="0 0 {{width}} {{height}}" xmlns="http://www.w3.org/2000/svg">
      {{#gridlines}}
      <line class="grid" x1="36" y1="{{y}}" x2="{{width}}" y2="{{y}}"/>
      <text class="tick" x="30" y="{{y}}" dy="4" text-anchor="end">{{label}}</text>
      {{/gridlines}}
      <line class="axis" x1="36" y1="{{baseline}}" x2="{{width}}" y2="{{baseline}}"/>
      {{#groups}}
      <g class="bracket" data-bracket="{{name}}">
        {{#bars}}
        <rect class="count {{gender}} legend" x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}">
          <title>{{name}}: {{count}} {{gender}}</title>
        </rect>
        <text x="{{centerX}}" y="{{countY}}" text-anchor="middle">{{count}}</text>
        {{/bars}}
        <text x="{{centerX}}" y="{{baseline}}" dy="18" text-anchor="middle">{{name}}</text>
      </g>
      {{/groups}}
      <rect class="legend female" x="380" y="4" width="12" height="12"/><text x="396" y="14">female</text>
      <rect class="legend male" x="460" y="4" width="12" height="12"/><text x="476" y="14">male</text>
    </svg>
    {{/histogram}}

    <h2>People</h2>
    {{#nobody}}<p class="nobody">No faces to show.</p>{{/nobody}}
    <section id="gallery" class="gallery">
    {{#gallery}}
      <figure class="person {{gender}}" data-track="{{trackID}}">
        <img class="face" src="{{image}}" alt="{{caption}}">
        <figcaption>{{caption}}<br><span class="detail">{{detail}}</span></figcaption>
      </figure>
    {{/gallery}}
    </section>
    </body>
    </html>

    """#
}
