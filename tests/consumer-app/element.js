// The element with only its attributes: it imports presigned-upload/web (which the bundler resolves) and
// calls init() itself when the first file starts. The sample backend comes from `?backend=`.
import 'presigned-upload/element';

const backend = new URLSearchParams(location.search).get('backend') ?? location.origin;
const form = document.querySelector('presigned-upload-form');
form.setAttribute('presign', `${backend}/backend/presign`);
form.setAttribute('verify', `${backend}/backend/verify`);
document.body.dataset.ready = 'element';
