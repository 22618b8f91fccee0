// The execution page: mark the selected state in the drawing (the panel shows it through
// :target), and, for a running execution, reload the page when its status or events change.
(function () {
  const script = document.currentScript;
  function select() {
    const panel = document.querySelector(".panel");
    if (!panel) return;
    const wanted = decodeURIComponent(window.location.hash.slice(1));
    const shown = (wanted && document.getElementById(wanted)) || panel.querySelector(".state-detail.default");
    document.querySelectorAll("svg.machine g.state.selected").forEach((g) => g.classList.remove("selected"));
    document.querySelectorAll(".path a.selected").forEach((a) => a.classList.remove("selected"));
    if (!shown || !shown.classList.contains("state-detail")) return;
    document.querySelectorAll("svg.machine g.state").forEach((g) => {
      if (g.dataset.state === shown.dataset.state) g.classList.add("selected");
    });
    document.querySelectorAll(".path a").forEach((a) => {
      if (a.getAttribute("href") === "#" + shown.id) a.classList.add("selected");
    });
  }
  window.addEventListener("hashchange", select);
  select();

  const url = script.dataset.live;
  if (!url) return;
  const seen = Number(script.dataset.events);
  async function poll() {
    try {
      const answer = await fetch(url, { cache: "no-store" });
      const live = await answer.json();
      if (live.status !== "RUNNING" || live.events !== seen) {
        window.location.reload();
        return;
      }
    } catch (error) {
      // the server restarted or is busy: try again
    }
    setTimeout(poll, 500);
  }
  setTimeout(poll, 500);
})();
