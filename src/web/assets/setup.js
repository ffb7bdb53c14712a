// The set-up link carries its one-time token in the URL fragment, which browsers never
// send to a server (or a proxy's log); this moves it into the form, then off the URL.
(function () {
  var field = document.getElementById("token");
  var token = window.location.hash.slice(1);
  if (field && token && !field.value) {
    field.value = decodeURIComponent(token);
    history.replaceState(null, "", window.location.pathname);
  }
})();
