// sla-credit console: customer search as you type. Plain script, no dependencies; the search
// form works without it (a normal GET /customers?q=). Results are built with textContent, so
// nothing a customer typed is ever read as HTML.
(function () {
  "use strict";
  var input = document.querySelector("input[data-suggest]");
  if (!input) return;
  var list = document.getElementById(input.getAttribute("aria-controls"));
  var count = document.getElementById("result-count");
  var endpoint = input.getAttribute("data-suggest");
  var timer = null;
  var seq = 0;

  function span(cls, text) {
    var s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  }

  function show(customers) {
    while (list.firstChild) list.removeChild(list.firstChild);
    customers.forEach(function (c) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = c.href;
      a.appendChild(span("name", c.name));
      a.appendChild(document.createTextNode(" "));
      a.appendChild(span("id", c.id));
      if (c.email) {
        a.appendChild(document.createTextNode(" "));
        a.appendChild(span("email", c.email));
      }
      li.appendChild(a);
      list.appendChild(li);
    });
    if (count) {
      count.textContent = customers.length + (customers.length === 1 ? " customer" : " customers");
    }
  }

  function search() {
    var q = input.value.trim();
    var mine = ++seq;
    fetch(endpoint + "?q=" + encodeURIComponent(q), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (r) {
        if (r.status === 401) { window.location.href = "/"; return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (data) {
        if (data && mine === seq) {
          show(data);
          var url = "/customers" + (q ? "?q=" + encodeURIComponent(q) : "");
          window.history.replaceState(null, "", url);
        }
      })
      .catch(function () { /* the form submit still works */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
})();
