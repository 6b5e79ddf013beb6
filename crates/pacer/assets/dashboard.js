// Progressive enhancement: the table's sort buttons sort in place (no reload) and keep the
// URL shareable. Without this script they submit the filter form and the server sorts.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("scopes");
  if (!table) return;
  const form = document.getElementById("filters");
  const headers = Array.from(table.tHead.rows[0].cells);
  table.querySelectorAll("button.sort").forEach((button) => {
    button.addEventListener("click", (event) => {
      event.preventDefault();
      const [column, dir] = button.value.split(":");
      const th = button.closest("th");
      const index = headers.indexOf(th);
      const rows = Array.from(table.tBodies[0].rows);
      const key = (row) => row.cells[index].dataset.sort ?? row.cells[index].textContent;
      const numeric = column !== "name";
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        if (numeric) {
          // Missing figures (empty keys) stay last in both directions.
          if (x === "" || y === "") return (x === "") - (y === "");
          return dir === "asc" ? x - y : y - x;
        }
        return dir === "asc" ? x.localeCompare(y) : y.localeCompare(x);
      });
      rows.forEach((row) => table.tBodies[0].appendChild(row));
      table.querySelectorAll("th[aria-sort]").forEach((h) => {
        const b = h.querySelector("button.sort");
        const active = h === th;
        h.setAttribute("aria-sort", active ? (dir === "asc" ? "ascending" : "descending") : "none");
        b.querySelector(".sort-mark").textContent = active ? (dir === "asc" ? " ▲" : " ▼") : "";
        b.value = b.value.split(":")[0] + ":" + (active && dir === "asc" ? "desc" : "asc");
      });
      if (form) {
        form.elements.sort.value = column;
        form.elements.dir.value = dir;
      }
      const url = new URL(window.location.href);
      url.searchParams.set("sort", column);
      url.searchParams.set("dir", dir);
      url.searchParams.delete("sortdir");
      history.replaceState(null, "", url);
    });
  });
});
