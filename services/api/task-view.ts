/** The API shows task records the way the worker's callbacks do: one view, in shared/. */
export { taskView } from '../shared/task-view';
