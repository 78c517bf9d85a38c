import { test } from 'node:test';
import assert from 'node:assert/strict';
import { folderDialogOptions, pickedFolder } from './folderPicker.js';

test('the folder picker picks one folder, titled as asked, whatever the page sent', () => {
  assert.deepEqual(folderDialogOptions({ title: 'Import local checkpoint', buttonLabel: 'Import' }), { title: 'Import local checkpoint', buttonLabel: 'Import', properties: ['openDirectory'] });
  // A page cannot widen it (files, several folders, another default path) or crash main.
  for (const sent of [undefined, null, 42, 'x', { title: 7, properties: ['openFile', 'multiSelections'], defaultPath: '/etc' }]) {
    assert.deepEqual(folderDialogOptions(sent), { title: 'Choose a folder', properties: ['openDirectory'] }, String(sent));
  }
  assert.equal(folderDialogOptions({ title: 'x'.repeat(500) }).title!.length, 120);
});

test('the picker answers the folder chosen, or null when closed', () => {
  assert.equal(pickedFolder({ canceled: false, filePaths: ['/home/me/finetune'] }), '/home/me/finetune');
  assert.equal(pickedFolder({ canceled: true, filePaths: [] }), null);
  assert.equal(pickedFolder({ canceled: false, filePaths: [] }), null);
});
