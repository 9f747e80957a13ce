// A run's verdict form and, when the run was opened from the review queue, its keyboard
// shortcuts: 1-4 record that verdict (and the server sends the next run), n or j skip to
// the next run, q goes back to the queue, ? shows the help. Bound with addEventListener:
// the Content-Security-Policy (script-src 'self') runs no inline script.
"use strict";

(() => {
  const form = document.querySelector("form[data-verdict-form]");
  if (form) {
    const kinds = Array.from(form.querySelectorAll("input[name=kind]"));
    const better = form.querySelector("[data-better-answer]");
    const betterText = better ? better.querySelector("textarea") : null;
    // The better answer belongs to an incorrect verdict only: shown for it (or while it
    // holds text, so nothing typed is hidden), hidden otherwise.
    const refresh = () => {
      for (const input of kinds) {
        input.closest("label").classList.toggle("active", input.checked);
      }
      if (better) {
        const chosen = kinds.find((input) => input.checked);
        const incorrect = chosen && chosen.value === "incorrect";
        better.hidden = !incorrect && !(betterText && betterText.value.trim());
      }
    };
    for (const input of kinds) input.addEventListener("change", refresh);
    refresh();
  }

  const section = document.querySelector("[data-review-shortcuts]");
  if (!section) return;
  const help = section.querySelector("[data-review-help]");
  const helpToggle = section.querySelector("[data-review-help-toggle]");
  const toggleHelp = () => {
    if (!help) return;
    help.hidden = !help.hidden;
    if (helpToggle) helpToggle.setAttribute("aria-expanded", String(!help.hidden));
  };
  if (helpToggle) helpToggle.addEventListener("click", toggleHelp);
  const follow = (selector) => {
    const link = section.querySelector(selector);
    if (link) window.location.href = link.href;
  };

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (
      target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
    ) {
      // Typing a note; a radio button has focus after a click, and takes the digits too.
      if (!(target instanceof HTMLInputElement && target.type === "radio")) return;
    }
    const key = event.key;
    if (form && ["1", "2", "3", "4"].includes(key)) {
      const input = form.querySelectorAll("input[name=kind]")[Number(key) - 1];
      if (!input) return;
      event.preventDefault();
      input.checked = true;
      input.dispatchEvent(new Event("change"));
      form.requestSubmit();
    } else if (key === "n" || key === "j") {
      event.preventDefault();
      follow("[data-review-next]");
    } else if (key === "q") {
      event.preventDefault();
      follow("[data-review-queue]");
    } else if (key === "?") {
      event.preventDefault();
      toggleHelp();
    } else if (key === "Escape" && help && !help.hidden) {
      toggleHelp();
    }
  });
})();
