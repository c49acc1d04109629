// hashwarden console: the few things plain HTML cannot do. Every page works without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A form that changes something irreversibly asks first (data-confirm holds the question).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }
  // A key or secret shown once: a button copies it (the clipboard is written, never read).
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = "Copied";
      } catch (error) {
        button.textContent = "Select the text and copy it";
      }
    });
  }
  // The message a form left is announced and takes the focus, so a keyboard user hears it.
  const flash = document.querySelector(".flash");
  if (flash) {
    flash.setAttribute("tabindex", "-1");
    flash.focus();
  }
});
