// clickup-sync admin: the little behaviour the pages need, without inline scripts (the
// Content-Security-Policy allows only this file). Buttons with data-confirm ask first.
"use strict";
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question = button && button.dataset ? button.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("submit", (event) => {
  // A second click while the action runs would submit it twice.
  if (!event.defaultPrevented && event.submitter) {
    window.setTimeout(() => { event.submitter.disabled = true; }, 0);
  }
});
