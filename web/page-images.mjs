// The Images page (#/images): the image store (ISOs, disk images, kernels; GET
// /api/v1/images needs modify on the server), an upload of a file chosen here (PUT with the
// File as the body: the browser streams it) and delete (modify and remove, and the image's
// owner or an administrator; 409 while a VM uses the image). An image is its uploader's:
// private to a user (Owner, Public), public when an administrator uploads it;
// administrators make one public or private here. The list holds what the caller may see.
// The API has the last word; its refusals show on the page.
import { api, app, main, setView, showError, clearError, mayServer, isAdmin } from './core.mjs';
import { h, replace, table } from './dom.mjs';
import { fmtBytes } from './format.mjs';
import { field, input, form } from './form.mjs';
import { usedBy } from './page-disks.mjs';

function uploadForm(reload, maxSize) {
  const file = h('input', { type: 'file', name: 'file' });
  const name = input({ name: 'name' });
  const sha = input({ name: 'sha256', size: 64, placeholder: 'optional' });
  const status = h('p', { class: 'hint', role: 'status' });
  file.addEventListener('change', () => {
    if (file.files.length && !name.value.trim())
      name.value = file.files[0].name;
  });
  return form({ class: 'panel', id: 'image-upload', 'aria-label': 'Upload an image' }, [
    h('h2', {}, 'Upload an image'),
    field('file', 'File', file, maxSize ? 'at most ' + fmtBytes(maxSize) : null),
    field('name', 'Name', name, 'the file\'s name when empty'),
    field('sha256', 'SHA-256', sha, 'refused unless the upload has this checksum'),
    h('button', { class: 'primary', type: 'submit' }, 'Upload'), status], async () => {
    status.textContent = '';
    if (!file.files.length)
      throw new Error('Choose a file.');
    const f = file.files[0];
    const n = name.value.trim() || f.name;
    status.textContent = `Uploading ${n} (${fmtBytes(f.size)})…`;
    try {
      const img = await api.uploadImage(n, f, sha.value.trim());
      status.textContent = `Uploaded ${img.name}: SHA-256 ${img.sha256}.`;
    } catch (e) {
      status.textContent = '';
      throw e;
    }
    file.value = '';
    name.value = '';
    sha.value = '';
    await reload();
  });
}

export function viewImages() {
  if (!mayServer('modify')) {
    replace(main, h('h1', {}, 'Images'),
      h('p', { class: 'empty' }, 'You may not see the image store (that takes modify on the server).'));
    setView({ name: 'images' });
    return;
  }
  const list = h('div', { id: 'image-list' });
  const side = h('div');
  let gone = false;
  const reload = async () => {
    const js = await api.listImages();
    if (gone)
      return;
    const remove = mayServer('remove'), admin = isAdmin();
    const act = async (fn) => {
      clearError();
      try {
        await fn();
      } catch (e) { showError(e); }
      await reload().catch(showError);
    };
    const publicCell = (i) => !admin ? (i.public ? 'yes' : 'no (yours)') :
      h('button', { type: 'button', 'data-key': 'image/' + i.name + '/public',
        title: i.public ? 'Make it private (its owner and the administrators)' : 'Make it public (every user)',
        on: { click: () => act(() => api.setImagePublic(i.name, !i.public)) } },
      i.public ? 'yes: make private' : 'no: make public');
    replace(list, js.images.length ? table('Images', [{ label: 'Name' }, { label: 'Kind' },
      { label: 'Size', num: true }, { label: 'Owner' }, { label: 'Public' }, { label: 'SHA-256' },
      { label: 'Used by' }, ...(remove ? [{ label: 'Actions' }] : [])],
    js.images.map((i) => [i.name, i.kind, fmtBytes(i.size), i.owner || '(the host)', publicCell(i),
      h('code', { class: 'sha256' }, i.sha256 || 'not computed yet'), usedBy(i),
      ...(remove ? [!(admin || (app.me && i.owner === app.me.user)) ? '' :
        h('button', { type: 'button', class: 'danger', 'data-key': 'image/' + i.name + '/delete',
        on: { click: async () => {
          if (!window.confirm(`Delete the image ${i.name}?`))
            return;
          await act(() => api.deleteImage(i.name));
        } } }, 'Delete')] : [])]))
      : h('p', { class: 'empty' }, 'The image store is empty.'));
    if (!side.firstChild)
      replace(side, uploadForm(reload, js.max_size));
  };
  replace(main, h('h1', {}, 'Images'), list, side);
  setView({ name: 'images', cleanup: () => { gone = true; } });
  reload().catch(showError);
}
