// Behaviour shared by every console page. Kept tiny and dependency-free.
(function () {
  "use strict";

  // A <form data-autosubmit> submits as soon as one of its selects changes (the organization
  // switcher); its fallback button stays for browsers without JavaScript.
  function enableAutosubmit(root) {
    root.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.querySelectorAll("[data-autosubmit-fallback]").forEach(function (button) {
        button.hidden = true;
      });
      form.addEventListener("change", function (event) {
        if (event.target.matches("select")) {
          form.requestSubmit();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enableAutosubmit(document);
  });
})();
