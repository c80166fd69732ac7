"""The viewer's main window: the tensor tree on the left, panes for the selection on the right.

Files open in workers (one task slot per path); the tree appears when the index is built,
and statistics, plots and values are computed by the panes in their own slots. The window's
operations (opening, compare, save, export) share the status bar's progress and Cancel
through :class:`StatusProgress`. Closing the window cancels every task and waits for the
threads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.core.analysis.run import RunMember
from csv_state_viewer.core.analysis.summary import plural
from csv_state_viewer.core.analysis.tree import FILE, Node
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.formatting import display_name
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.gui import exporttensor, menus
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.dropping import local_paths
from csv_state_viewer.gui.errors import show_error
from csv_state_viewer.gui.filterkeys import FilterKeys
from csv_state_viewer.gui.panes.base import Pane
from csv_state_viewer.gui.panetabs import PaneTabs
from csv_state_viewer.gui.resources import sample_files
from csv_state_viewer.gui.responsive import tune_for_responsiveness
from csv_state_viewer.gui.settings import Settings
from csv_state_viewer.gui.statusprogress import StatusProgress
from csv_state_viewer.gui.tasks import TaskSlot
from csv_state_viewer.gui.treecolumns import TreeColumns
from csv_state_viewer.gui.treefilter import TensorFilterProxy
from csv_state_viewer.gui.treemenu import TreeMenu
from csv_state_viewer.gui.treemodel import (
    DTYPE,
    NAME,
    NODE_ROLE,
    PARAMETERS,
    SHAPE,
    TensorTreeModel,
)
from csv_state_viewer.gui.welcome import WelcomeView
from csv_state_viewer.ops.opening import Opened, open_for_viewing, open_together_for_viewing
from csv_state_viewer.ops.timeline import order_members

PRELOAD_DELAY_MS = 400
PRELOAD_TRIES = 8  # at PRELOAD_DELAY_MS apart


@dataclass(frozen=True)
class _Layouts:
    """An open that stopped because the file fits several layouts."""

    fitting: list[Format]


class MainWindow(QMainWindow):
    file_opened = Signal(object)  # the file's tree Node
    open_failed = Signal(str, str)  # path, message
    tensors_exported = Signal(list)  # the ExportedTensor of each file written

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("csv-state-viewer")
        self.setAcceptDrops(True)
        self.context = ViewerContext(settings, self)
        self.settings = self.context.settings
        self.model = TensorTreeModel(self)
        self.proxy = TensorFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.error_boxes: list[Any] = []  # dialogs shown, kept for tests and for the user

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter names (text or glob: *kernel, dense*/bias)")
        self.filter_edit.setClearButtonEnabled(True)
        self.tree = self._make_tree()
        self.filter_keys = FilterKeys(self.filter_edit, self.tree, self.proxy, self.select_node)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.filter_edit)
        left_layout.addWidget(self.tree)

        self.tabs = QTabWidget()
        self.panes = PaneTabs(self.tabs, self.context, self._pane_made)
        self.tabs.currentChanged.connect(self._tab_changed)
        self._stale_panes: set[str] = set()

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([540, 740])
        self.columns = TreeColumns(self.tree, self.splitter, self.context)

        self.welcome = WelcomeView()
        self.welcome.open_requested.connect(lambda: menus.open_dialog(self))
        self.welcome.file_chosen.connect(self.open_file)
        self.welcome.set_samples(sample_files())
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.splitter)
        self.setCentralWidget(self.stack)

        self.status = StatusProgress(self.statusBar(), self)
        self.status.follow(self.model)
        self.status_label = self.status.label
        self.progress = self.status.bar
        self.cancel_button = self.status.cancel_button
        runner = self.context.runner
        self._opening: dict[str, TaskSlot] = {}  # path: its slot, while it opens
        self.action_slots = {
            action: runner.slot(f"window: {action}")
            for action in ("compare", "save", "export", "tensor")
        }
        find = QShortcut(QKeySequence("Ctrl+F"), self)
        find.activated.connect(self.filter_keys.focus_filter)
        # tabs switch from anywhere in the window, the tree included
        for keys, step in (
            ("Ctrl+Tab", 1),
            ("Ctrl+PgDown", 1),
            ("Ctrl+Shift+Tab", -1),
            ("Ctrl+Backtab", -1),
            ("Ctrl+PgUp", -1),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(lambda step=step: self.step_tab(step))
        self.context.tensor_failed.connect(self.model.refresh)
        self.context.comparison_changed.connect(self._comparison_changed)
        self.model.health_of = self.context.worst_finding
        self.context.health_changed.connect(self.model.refresh)
        runner.task_failed.connect(self._task_failed)
        self.menus = menus.build(self)
        self.tree_menu = TreeMenu(self)
        menus.update_actions(self)
        self.refresh_recent()
        self._restore_layout()
        self._pending_select: str | None = None
        self.current_pane()  # the first tab's pane; the others when they are first shown
        # their modules on a thread, once the window is up and no file is being opened
        self._preload_timer = QTimer(self)
        self._preload_timer.timeout.connect(self._preload_when_idle)
        self._preload_timer.start(PRELOAD_DELAY_MS)
        self._preload_tries = 0
        tune_for_responsiveness()  # no full collections of the startup objects; GIL handover

    # ------------------------------------------------------------------ building
    def _make_tree(self) -> QTreeView:
        tree = QTreeView()
        tree.setModel(self.proxy)
        tree.setUniformRowHeights(True)
        tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        tree.setSortingEnabled(True)
        tree.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # file order until a header click
        tree.setAlternatingRowColors(True)
        tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = tree.header()
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        for column, width in ((NAME, 200), (SHAPE, 80), (DTYPE, 64), (PARAMETERS, 84)):
            header.resizeSection(column, width)
        tree.selectionModel().selectionChanged.connect(self._selection_changed)
        tree.selectionModel().currentChanged.connect(lambda *_: self._selection_changed())
        return tree

    # ------------------------------------------------------------------- opening
    @property
    def roots(self) -> list[Node]:
        return self.model.roots

    def open_files(self, paths: list[str]) -> None:
        for path in paths:
            self.open_file(path)

    def open_file(
        self,
        path: str,
        layout: str | None = None,
        like: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        """Open ``path`` (as ``layout``; with the shapes of the model ``like``; with the
        format's reading ``options``, a fixed-point scale). When the content fits several
        layouts and none is given, the user chooses."""
        options = options or {}
        path = os.path.abspath(path)
        for root in self.roots:
            if root.state is not None and os.path.abspath(root.state.path) == path:
                self.select_node(root)
                return
        if path in self._opening:  # on its way
            return
        name = os.path.basename(path.rstrip("/\\"))
        slot = self._opening[path] = self.context.runner.slot(f"window: open {name}")

        def work(progress: Progress) -> Opened | _Layouts:
            # in the worker: finding the layouts reads the file and imports readers
            if layout is None:
                fitting = menus.fitting_layouts(path)
                if len(fitting) > 1:
                    return _Layouts(fitting)
            return open_for_viewing(path, progress, layout, like, **options)

        def done(result: Opened | _Layouts) -> str:
            if isinstance(result, _Layouts):  # the content fits several: the user picks
                self._forget_opening(path)
                menus.ask_layout(self, path, result.fitting, like)
                return ""
            return self._opened(path, result)

        self.status.run(
            slot,
            f"Opening {name}…",
            work,
            on_done=done,
            on_error=lambda error: self._open_failed(path, error),
            on_cancelled=lambda: self._forget_opening(path),
        )

    def open_together(self, paths: list[str]) -> None:
        """Open several files as one state, one tensor per file."""
        key = "\n".join(sorted(os.path.abspath(p) for p in paths))
        if key in self._opening:
            return
        slot = self._opening[key] = self.context.runner.slot("window: open together")
        self.status.run(
            slot,
            f"Opening {len(paths)} files as one state…",
            lambda progress: open_together_for_viewing(paths, progress),
            on_done=lambda result: self._opened(key, result),
            on_error=lambda error: self._open_failed(key, error),
            on_cancelled=lambda: self._forget_opening(key),
        )

    def reopen(
        self, root: Node, like: str | None = None, options: dict[str, Any] | None = None
    ) -> None:
        """Open ``root``'s file again: with the weight shapes of the model ``like``, or with
        reading ``options`` (a fixed-point scale)."""
        if root.state is None:
            return
        path = root.state.path
        self.close_file(root)
        self.open_file(path, like=like, options=options)

    def _forget_opening(self, path: str) -> None:
        del self._opening[path]

    def _opened(self, path: str, opened: Opened) -> str:
        self._forget_opening(path)
        root = opened.root
        self.model.add_root(root)
        self.stack.setCurrentWidget(self.splitter)
        if os.path.exists(path):  # not for files opened together
            self.settings.add_recent(path)
            self.refresh_recent()
        with self.columns.deferred():  # fitted once below
            self.tree.expand(self.proxy.mapFromSource(self.model.index_of(root)))
            pending, self._pending_select = self._pending_select, None
            in_root = root.find(pending) if pending else None  # the new file's, not another's
            if in_root is not None:
                self.select_node(in_root)
            elif pending is None or not self.select(pending):
                self.select_node(next(root.tensors(), root))
        self.columns.fit()
        self.tree.setFocus()  # arrow keys browse the tensors at once
        self.file_opened.emit(root)
        return self.status.opened(root)  # one bad-row count, following the file

    def _open_failed(self, path: str, error: BaseException) -> str:
        self._forget_opening(path)
        box = show_error(self, "Cannot open file", error)
        self.error_boxes.append(box)
        self.open_failed.emit(path, box.text())
        return box.text()

    def close_file(self, root: Node) -> None:
        comparison = self.context.comparison
        if comparison is not None and comparison.root is root:
            menus.clear_comparison(self)
        self.model.remove_root(root)
        if root.state is not None:
            self.context.cache.forget(root.state)
            root.state.close()
        if not self.roots:
            self.stack.setCurrentWidget(self.welcome)
        self._selection_changed()

    def refresh_recent(self) -> None:
        recent = self.settings.recent_files()
        self.welcome.set_recent(recent)
        menus.fill_recent(self, recent)

    def _task_failed(self, _owner: str, error: BaseException) -> None:
        self.error_boxes.append(show_error(self, "Operation failed", error))

    # ---------------------------------------------------------------- selection
    def selected_nodes(self) -> list[Node]:
        """Selected nodes, the current one first."""
        selection = self.tree.selectionModel()
        current = selection.currentIndex()
        rows = selection.selectedRows(NAME)
        nodes: list[Node] = []
        if current.isValid() and selection.isSelected(current.siblingAtColumn(NAME)):
            nodes.append(current.data(NODE_ROLE))
        seen = {id(n) for n in nodes}  # a set: selecting all of 100,000 rows stays linear
        for index in rows:
            node = index.data(NODE_ROLE)
            if id(node) not in seen:
                seen.add(id(node))
                nodes.append(node)
        return nodes

    def has_tensor_selected(self) -> bool:
        """True when a readable tensor (or a scope holding one) is selected; cheaper than
        :meth:`selected_nodes`: it stops at the first one."""
        selection = self.tree.selectionModel()
        current = selection.currentIndex()
        candidates = [current] if current.isValid() and selection.isSelected(current) else []
        for index in (*candidates, *selection.selectedRows(NAME)):
            node = index.data(NODE_ROLE)
            if node is not None and exporttensor.exportable([node]):
                return True
        return False

    def select(self, name: str) -> bool:
        """Select a tensor by full name, a scope by path or a file by its label."""
        for root in self.roots:
            if name in (root.label, root.name):
                self.select_node(root)
                return True
            found = root.find(name) or _find_scope(root, name)
            if found is not None:
                self.select_node(found)
                return True
        return False

    def open_run(self, arguments: list[str]) -> None:
        """Open a run (a folder, files or patterns of states saved during one training):
        its states are ordered in a worker, then its last state opens in the tree and the
        Timeline tab follows the selected tensors through all of them."""
        key = "run:\n" + "\n".join(arguments)
        if key in self._opening:  # on its way
            return
        slot = self._opening[key] = self.context.runner.slot("window: open run")
        self.status.run(
            slot,
            "Reading the run's states…",
            lambda progress: order_members(arguments, progress),
            on_done=lambda members: self._run_ordered(key, members),
            on_error=lambda error: self._open_failed(key, error),
            on_cancelled=lambda: self._forget_opening(key),
        )

    def _run_ordered(self, key: str, members: list[RunMember]) -> str:
        self._forget_opening(key)
        last = os.path.abspath(members[-1].path)
        for member in members:  # any state of the run opened later follows it too
            self.context.runs[os.path.abspath(member.path)] = members
        self.open_file(last)
        self.set_tab("timeline")
        return f"Run of {plural(len(members), 'state')}: showing the last, {os.path.basename(last)}"

    def open_step(self, path: str, name: str) -> None:
        """Open one state of a run on the tensor ``name`` (a click on the Timeline)."""
        path = os.path.abspath(path)
        for root in self.roots:
            if root.state is not None and os.path.abspath(root.state.path) == path:
                self.select_node(root.find(name) or root)
                return
        self.select_when_opened(name)
        self.open_file(path)

    def select_when_opened(self, name: str) -> None:
        """Select ``name`` instead of the first tensor when a file has opened."""
        self._pending_select = name

    def select_node(self, node: Node) -> None:
        index = self.proxy.mapFromSource(self.model.index_of(node))
        if not index.isValid():  # filtered out: clear the filter to show it
            self.filter_edit.clear()
            index = self.proxy.mapFromSource(self.model.index_of(node))
        self.tree.scrollTo(index)
        self.tree.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )

    def _preload_when_idle(self) -> None:
        """Importing Matplotlib holds the GIL at times for tens of milliseconds: not while
        a file opens and the tree is about to be shown (at the latest after a few tries)."""
        self._preload_tries += 1
        if self.context.runner.busy and self._preload_tries < PRELOAD_TRIES:
            return
        self._preload_timer.stop()
        self.panes.preload()

    def _pane_made(self, name: str, pane: Pane) -> None:
        step_chosen = getattr(pane, "step_chosen", None)  # the Timeline's
        if step_chosen is not None:
            step_chosen.connect(self.open_step)
        tensor_chosen = getattr(pane, "tensor_chosen", None)  # the Health pane's
        if tensor_chosen is not None:
            tensor_chosen.connect(self.select)

    def set_tab(self, name: str) -> None:
        self.tabs.setCurrentWidget(self.panes.holder(name))

    def step_tab(self, step: int) -> None:
        """Show the next (``step`` 1) or previous (-1) tab, wrapping around."""
        count = self.tabs.count()
        self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % count)

    def _comparison_changed(self) -> None:
        self.model.set_comparison(self.context.comparison)
        self.columns.fit()

    def current_pane(self) -> Pane:
        return self.panes[self.panes.current_name()]

    def _selection_changed(self, *_: Any) -> None:
        self._stale_panes = set(self.panes)
        menus.update_actions(self)
        # coalesce the selection + current-index signals of one click into one update
        QTimer.singleShot(0, self._update_current_pane)

    def _update_current_pane(self) -> None:
        nodes = self.selected_nodes()
        name = self.panes.current_name()
        pane = self.panes[name]  # built the first time its tab is shown
        if name in self._stale_panes:
            self._stale_panes.discard(name)
            pane.show_nodes(nodes)
        roots = {display_name(n.root().label) for n in nodes}
        self.setWindowTitle(
            f"{', '.join(sorted(roots))} - csv-state-viewer" if roots else "csv-state-viewer"
        )

    def _tab_changed(self, _index: int) -> None:
        self._update_current_pane()

    def current_root(self) -> Node | None:
        nodes = self.selected_nodes()
        if nodes:
            return nodes[0].root()
        return self.roots[0] if self.roots else None

    # ------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        if len(paths) == 1:
            self.open_file(paths[0])
        else:
            menus.ask_open_or_convert(self, paths)

    # ------------------------------------------------------------------ closing
    def _restore_layout(self) -> None:
        geometry = self.settings.geometry("window")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        splitter = self.settings.geometry("splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.settings.set_geometry("window", self.saveGeometry())
        self.settings.set_geometry("splitter", self.splitter.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Cancel and wait for every worker, then close the open files."""
        menus.close_dialogs(self)
        self.panes.wait_for_preload()
        self.context.shutdown()
        for pane in self.panes.made():
            canvas = getattr(pane, "canvas", None)
            if canvas is not None:
                canvas.canvas.wait_for_render()
        for root in list(self.roots):
            if root.state is not None:
                root.state.close()
        comparison = self.context.comparison
        if comparison is not None:
            comparison.other.close()


def _find_scope(root: Node, path: str) -> Node | None:
    stack = list(root.children)
    while stack:
        node = stack.pop()
        if node.kind != FILE and node.entry is None and node.name == path:
            return node
        stack.extend(node.children)
    return None
