/**
 * The script that carries an API key from the viewer's `?token=` hand-off to every request the
 * viewer makes (AUTH=keys). OHIF reads `?token=` only on its viewer route, not on the study
 * list, and drops it on the first navigation; so the gateway's index page loads this first: it
 * keeps the token for the tab (sessionStorage), removes it from the address bar and history,
 * and adds `Authorization: Bearer` to the viewer's own DICOMweb and API requests (XHR and fetch)
 * that carry none. Nothing goes to another origin.
 */
export const TOKEN_SCRIPT = `(function () {
  var KEY = 'veilgate_token';
  var url = new URL(window.location.href);
  var given = url.searchParams.get('token');
  if (given) {
    sessionStorage.setItem(KEY, given);
    url.searchParams.delete('token');
    window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  }
  var token = sessionStorage.getItem(KEY);
  if (!token) return;
  var bearer = 'Bearer ' + token;
  function ours(target) {
    try {
      var u = new URL(target, window.location.href);
      return u.origin === window.location.origin && /\\/(dicom-web|api)(\\/|$)/.test(u.pathname);
    } catch (e) {
      return false;
    }
  }
  var xhr = XMLHttpRequest.prototype;
  var open = xhr.open, send = xhr.send, setHeader = xhr.setRequestHeader;
  xhr.open = function (method, target) {
    this.__veilgate = { ours: ours(target), authorised: false };
    return open.apply(this, arguments);
  };
  xhr.setRequestHeader = function (name, value) {
    if (this.__veilgate && String(name).toLowerCase() === 'authorization') this.__veilgate.authorised = true;
    return setHeader.apply(this, arguments);
  };
  xhr.send = function () {
    if (this.__veilgate && this.__veilgate.ours && !this.__veilgate.authorised) setHeader.call(this, 'Authorization', bearer);
    return send.apply(this, arguments);
  };
  var plainFetch = window.fetch;
  window.fetch = function (input, init) {
    var target = typeof input === 'string' ? input : input && (input.url || String(input));
    if (ours(target)) {
      var headers = new Headers((init && init.headers) || (input instanceof Request ? input.headers : undefined));
      if (!headers.has('Authorization')) {
        headers.set('Authorization', bearer);
        init = Object.assign({}, init, { headers: headers });
      }
    }
    return plainFetch.call(this, input, init);
  };
})();
`;
