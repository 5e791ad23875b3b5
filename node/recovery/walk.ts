/** Resume's view of the one DAG walker (snapshot/dag/walk.ts). */
export { missingRoots } from '../../snapshot/dag/walk.ts'
