// A running execution: poll its status and event count, and reload the page when either changes.
(function () {
  const script = document.currentScript;
  const url = script.dataset.live;
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
