// A tiny upload page, written as an app using presigned-upload would be. The sample backend's base
// address comes from `?backend=http://127.0.0.1:PORT` (the devserver's web base).
export function mountApp({ Uploader, putFile }, entry) {
  const backend = new URLSearchParams(location.search).get('backend') ?? location.origin;
  const uploader = new Uploader({
    presign: `${backend}/backend/presign`,
    verify: `${backend}/backend/verify`,
    credentials: 'omit',
  });

  // Runs `work(file)` on each chosen file and shows its outcome as JSON in `out`.
  const wire = (inputId, outId, work) => {
    const out = document.getElementById(outId);
    document.getElementById(inputId).addEventListener('change', async (ev) => {
      const file = ev.target.files[0];
      delete out.dataset.state;
      const phases = [];
      const onProgress = (p) => phases.push(p);
      try {
        out.textContent = JSON.stringify({ ok: true, ...(await work(file, onProgress)), phases });
      } catch (e) {
        out.textContent = JSON.stringify({ ok: false, name: e.name, code: e.code, message: e.message, status: e.status });
      }
      out.dataset.state = 'done';
    });
  };

  wire('uploader-input', 'uploader-result', async (file, onProgress) => ({
    result: await uploader.upload(file, { onProgress }),
  }));

  wire('putfile-input', 'putfile-result', async (file, onProgress) => {
    const res = await fetch(`${backend}/backend/presign`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ file_name: file.name, content_type: file.type }),
    });
    if (!res.ok) throw new Error(`presign answered HTTP ${res.status}`);
    const { presigned_url, file_uuid } = await res.json();
    const put = await putFile(presigned_url, file, { contentType: file.type, onProgress });
    return { fileUuid: file_uuid, put };
  });

  document.body.dataset.ready = entry;
}
