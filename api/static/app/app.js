// Progressive enhancement only: every link and form works without this file.
// - htmx requests carry the session's CSRF token as a header;
// - the move dialog opens in a <dialog> instead of a page, and closes on Cancel or Escape;
// - 4xx answers (a refused move, a stale version) are shown in place, like 2xx ones.
document.addEventListener("DOMContentLoaded", () => {
  const token = document.querySelector('meta[name="csrf-token"]');
  const dialog = document.getElementById("dialog");
  if (!window.htmx || !dialog) return;
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "[4]..", swap: true, error: false },
    { code: "...", swap: false, error: true },
  ];
  document.body.addEventListener("htmx:configRequest", (event) => {
    if (token) event.detail.headers["X-CSRF-Token"] = token.content;
  });
  let opener = null;
  document.body.addEventListener("click", (event) => {
    const trigger = event.target.closest("[data-dialog]");
    if (trigger) opener = trigger;
    const close = event.target.closest("[data-close]");
    if (close && dialog.open) {
      event.preventDefault();
      dialog.close();
    }
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "dialog-body") return;
    if (!dialog.open) dialog.showModal();
    const focus = dialog.querySelector(".error-summary, input:not([disabled]):not([type=hidden]), button");
    if (focus) {
      if (focus.classList.contains("error-summary")) focus.setAttribute("tabindex", "-1");
      focus.focus();
    }
  });
  dialog.addEventListener("close", () => {
    document.getElementById("dialog-body").replaceChildren();
    if (opener) opener.focus();
  });
});
