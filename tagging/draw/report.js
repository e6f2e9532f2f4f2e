/* Paged, sortable, filterable tables of the report: rows come from the JSON script named
   by each .pager's data-rows, and only one page of rows (and of thumbnails) is in the
   document at a time, so a match with thousands of events stays quick. */
(function () {
  'use strict';
  var PAGE = 50;
  var KINDS = {
    events: {cols: ['peak (s)', 'event', 'track', 'team', 'confidence', 'start (s)', 'end (s)', 'model', 'peak frame'],
             thumb: 8, filters: [1, 3], empty: 'No events.'},
    tracks: {cols: ['track', 'team', 'on screen (s)', 'first (s)', 'last (s)', 'frames', 'mean score'],
             thumb: -1, filters: [1], empty: 'No tracks.'}
  };

  function make(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }

  function compare(a, b) {
    if (a === b) { return 0; }
    if (a === null || a === undefined) { return 1; }
    if (b === null || b === undefined) { return -1; }
    if (typeof a === 'number' && typeof b === 'number') { return a - b; }
    return String(a).localeCompare(String(b));
  }

  function setup(box) {
    var kind = KINDS[box.getAttribute('data-kind')];
    var rows = JSON.parse(document.getElementById(box.getAttribute('data-rows')).textContent);
    if (rows.length === 0) { box.appendChild(make('p', kind.empty, 'muted')); return; }
    var state = {page: 0, sort: 0, asc: true, filters: {}};
    var controls = make('div', null, 'controls');
    kind.filters.forEach(function (col) {
      var label = make('label', kind.cols[col] + ' ');
      var select = make('select');
      select.appendChild(make('option', 'all'));
      var seen = {};
      rows.forEach(function (r) { seen[r[col]] = true; });
      Object.keys(seen).sort().forEach(function (v) { select.appendChild(make('option', v)); });
      select.addEventListener('change', function () {
        if (select.value === 'all') { delete state.filters[col]; } else { state.filters[col] = select.value; }
        state.page = 0;
        draw();
      });
      label.appendChild(select);
      controls.appendChild(label);
    });
    var prev = make('button', '‹ previous');
    var next = make('button', 'next ›');
    var where = make('span', '', 'muted');
    prev.addEventListener('click', function () { state.page -= 1; draw(); });
    next.addEventListener('click', function () { state.page += 1; draw(); });
    controls.appendChild(prev);
    controls.appendChild(next);
    controls.appendChild(where);
    var table = make('table');
    var head = make('tr');
    kind.cols.forEach(function (name, col) {
      var th = make('th', name, col === kind.thumb ? '' : 'sortable');
      if (col !== kind.thumb) {
        th.addEventListener('click', function () {
          state.asc = state.sort === col ? !state.asc : true;
          state.sort = col;
          state.page = 0;
          draw();
        });
      }
      head.appendChild(th);
    });
    var thead = make('thead');
    thead.appendChild(head);
    var tbody = make('tbody');
    table.appendChild(thead);
    table.appendChild(tbody);
    box.appendChild(controls);
    box.appendChild(table);

    function draw() {
      var shown = rows.filter(function (r) {
        return Object.keys(state.filters).every(function (col) { return String(r[col]) === state.filters[col]; });
      });
      shown.sort(function (a, b) { var c = compare(a[state.sort], b[state.sort]); return state.asc ? c : -c; });
      var pages = Math.max(1, Math.ceil(shown.length / PAGE));
      state.page = Math.min(Math.max(state.page, 0), pages - 1);
      var first = state.page * PAGE;
      var page = shown.slice(first, first + PAGE);
      tbody.textContent = '';
      page.forEach(function (r) {
        var tr = make('tr');
        r.forEach(function (v, col) {
          if (col === kind.thumb) {
            var td = make('td');
            if (v) {
              var img = make('img');
              img.alt = r[1] + ' at ' + r[0] + ' s';
              img.setAttribute('src', v);
              td.appendChild(img);
            } else {
              td.textContent = '–';
              td.className = 'muted';
            }
            tr.appendChild(td);
          } else {
            tr.appendChild(make('td', v === null ? '–' : v, typeof v === 'number' ? 'num' : ''));
          }
        });
        tbody.appendChild(tr);
      });
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      where.textContent = shown.length ? ('rows ' + (first + 1) + '–' + (first + page.length) + ' of ' +
        shown.length + ' (page ' + (state.page + 1) + ' of ' + pages + ')') : 'no rows match';
    }
    draw();
  }

  Array.prototype.forEach.call(document.querySelectorAll('.pager'), setup);
}());
