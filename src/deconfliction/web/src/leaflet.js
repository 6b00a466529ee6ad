// Leaflet as an ES import, and as the global `L` that leaflet-geoman's bundle expects when it is evaluated: this
// module must be imported before geoman (main.js imports it first).
import L from "leaflet";

window.L = L;

export default L;
