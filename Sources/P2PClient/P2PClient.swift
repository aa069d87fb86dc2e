// P2PClient: see DESIGN.md §4.
import P2PCore
